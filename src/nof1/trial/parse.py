"""Parsing and validation of the protocol TOML: every problem found in one pass.

This module owns the checks of the protocol file (docs/protocol.md): each table's keys, their types
and ranges (the bounds themselves live in :mod:`nof1.limits`; the stop rules are checked by
:mod:`nof1.trial.stop_rules`). :meth:`nof1.trial.protocol.Protocol.from_dict` calls :func:`parse`;
problems are collected (not raised one by one) so a clinician fixes the file once.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from .. import limits
from ..errors import ProtocolError
from .categories import parse_categories
from .checker import Checker, is_int
from .diary_options import DIARY_KEYS, parse_diary_options
from .model import (
    BLINDINGS,
    PRIORS,
    RESERVED,
    SCHEMES,
    AnalysisPlan,
    Design,
    Outcome,
    Prior,
    StopRule,
    Trial,
    default_min_days,
)
from .stop_rules import RuleScope, parse_rules

__all__ = ["parse"]

_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "trial": ("id", "patient", "clinician", "start", "treatment", "control", "blinding"),
    "design": (
        "scheme",
        "cycles",
        "period_days",
        "run_in_days",
        "washout_days",
        "seed",
        "max_run",
        "sequence",
    ),
    "diary": ("columns", "categories"),
    "analysis": ("alpha", "min_days_per_period", "trend", "prior"),
    "outcomes": ("name", "label", "min", "max", "better", "mcid", "primary"),
    "prior": ("kind", "mu0", "kappa0", "alpha0", "beta0"),
}
_TOP_KEYS = ("trial", "design", "diary", "analysis", "outcomes", "stop_rules")

# Reading keys of real-world diaries, checked by nof1.trial.diary_options (several entries, arms,
# rename)
_TABLE_KEYS["diary"] += DIARY_KEYS
_TABLE_KEYS["outcomes"] += ("aggregate",)


def _parse_trial(raw: Mapping[str, Any], chk: Checker) -> Trial | None:
    chk.unknown(raw, "[trial]", _TABLE_KEYS["trial"])
    trial_id = chk.text(raw, "id", "trial")
    start = raw.get("start")
    if isinstance(start, str):
        try:
            start = _dt.date.fromisoformat(start)
        except ValueError:
            chk.add(f"trial.start = {start!r} is not a date; dates are written 2026-10-15")
            start = None
    elif isinstance(start, _dt.datetime):
        chk.add(f"trial.start = {start} must be a date without a time, e.g. 2026-01-05")
        start = None
    elif start is None:
        chk.add("trial.start is missing; it must be a date, e.g. 2026-01-05")
    elif not isinstance(start, _dt.date):
        chk.add(f"trial.start = {start!r} is not a date; dates are written 2026-10-15")
        start = None
    if start is not None and limits.date_problem(start):
        chk.add(f"trial.start = {start} {limits.date_problem(start)}")
        start = None
    blinding = chk.choice(raw, "blinding", "trial", BLINDINGS, default="open")
    texts = {}
    for key, default in (
        ("patient", ""),
        ("clinician", ""),
        ("treatment", "treatment"),
        ("control", "control"),
    ):
        texts[key] = chk.text(raw, key, "trial", default=default)
    if trial_id is None or start is None or blinding is None:
        return None
    return Trial(id=trial_id, start=start, blinding=blinding, **texts)


def _parse_design(raw: Mapping[str, Any], chk: Checker) -> Design | None:
    chk.unknown(raw, "[design]", _TABLE_KEYS["design"])
    scheme = chk.choice(raw, "scheme", "design", SCHEMES)
    cycles = chk.integer(raw, "cycles", "design", 1, maximum=limits.MAX_CYCLES)
    period_days = chk.integer(raw, "period_days", "design", 1, maximum=limits.MAX_PERIOD_DAYS)
    run_in = chk.integer(raw, "run_in_days", "design", 0, 0, maximum=limits.MAX_RUN_IN_DAYS)
    washout = chk.integer(raw, "washout_days", "design", 0, 0, maximum=limits.MAX_PERIOD_DAYS - 1)
    if period_days is not None and washout is not None and washout >= period_days:
        chk.add(
            f"design.washout_days = {washout} must be smaller than design.period_days = "
            f"{period_days}, or no day of a period would count"
        )
        washout = None
    sequence = raw.get("sequence")
    if sequence is not None and not isinstance(sequence, str):
        chk.add(f'design.sequence = {sequence!r} must be text such as "TC CT"')
        sequence = None
    seed = raw.get("seed")
    if seed is not None and not is_int(seed):
        chk.add(f"design.seed = {seed!r} must be a whole number")
        seed = None
    elif seed is None and scheme not in (None, "alternating") and sequence is None:
        chk.add(
            f"design.seed is missing; scheme {scheme!r} draws its allocation from a whole-number "
            "seed (or give design.sequence)"
        )
    max_run = raw.get("max_run")
    if max_run is not None:
        if scheme != "random":
            chk.add(f"design.max_run applies to scheme 'random' only, not {scheme!r}; remove it")
            max_run = None
        else:
            max_run = chk.integer(raw, "max_run", "design", 1)
    if None in (scheme, cycles, period_days, run_in, washout):
        return None
    design = Design(scheme, cycles, period_days, run_in, washout, seed, max_run, sequence)
    if sequence is not None:
        from .allocations import parse_sequence  # a light module, imported when needed

        try:
            parse_sequence(design)
        except ValueError as exc:
            chk.add(f"design.sequence = {sequence!r}: {exc}")
            return None
    return design


def _parse_outcomes(raw: Any, chk: Checker) -> tuple[Outcome, ...]:
    if not isinstance(raw, list) or not raw:
        chk.add("[[outcomes]] is missing; declare at least one outcome with name, min, max, better")
        return ()
    if len(raw) > limits.MAX_OUTCOMES:
        chk.add(f"[[outcomes]]: {len(raw)} outcomes; at most {limits.MAX_OUTCOMES}")
        return ()
    outcomes = []
    names: set[str] = set()
    for i, entry in enumerate(raw, start=1):
        where = f"outcomes[{i}]"
        if not isinstance(entry, dict):
            chk.add(f"{where} must be a table ([[outcomes]])")
            continue
        name = chk.text(entry, "name", where)
        if name is not None and not chk.name(name, f"{where}.name"):
            name = None
        if name is not None:
            where = f"outcomes[{i}] ({name})"
            if name in names:
                chk.add(f"{where}: outcome name {name!r} is used twice; names must be unique")
            if name in RESERVED:
                chk.add(
                    f"{where}: {name!r} is a name nof1 uses itself; choose another (reserved: "
                    f"{', '.join(RESERVED)})"
                )
            names.add(name)
        chk.unknown(entry, where, _TABLE_KEYS["outcomes"])
        lo = chk.number(entry, "min", where)
        hi = chk.number(entry, "max", where)
        for key, value in (("min", lo), ("max", hi)):
            if value is not None and abs(value) > limits.MAX_SCALE:
                chk.add(f"{where}.{key} = {value:g} must lie within plus or minus 10^9")
                lo = hi = None
        if lo is not None and hi is not None and lo >= hi:
            chk.add(f"{where}: min = {lo:g} must be smaller than max = {hi:g}")
        better = chk.choice(entry, "better", where, ("lower", "higher"))
        mcid = chk.number(entry, "mcid", where, required=False)
        if mcid is None and "mcid" not in entry:
            chk.add(
                f"{where}.mcid is missing: the smallest difference that matters to the patient, "
                "in scale units (about 1 point on a 0-10 pain scale)"
            )
        elif mcid is not None and mcid <= 0:
            chk.add(f"{where}.mcid = {mcid:g} must be greater than 0")
            mcid = None
        label = chk.text(entry, "label", where, default=name or "")
        primary = entry.get("primary", False)
        if not isinstance(primary, bool):
            chk.add(f"{where}.primary = {primary!r} must be true or false")
            primary = False
        if None not in (name, lo, hi, better, mcid):
            outcomes.append(Outcome(name, lo, hi, better, mcid, label or name, primary))
    primaries = [o.name for o in outcomes if o.primary]
    n_primary = len(primaries)
    if n_primary > 1:
        chk.add(
            f"more than one outcome has primary = true ({', '.join(primaries)}); mark exactly "
            "one as primary"
        )
    elif n_primary == 0 and len(outcomes) > 1:
        chk.add(
            "no outcome has primary = true; with several outcomes mark exactly one as primary "
            "(it is judged first; the others are tested only when it shows an effect, with "
            "Holm-adjusted p-values)"
        )
    elif n_primary == 0 and outcomes:
        only = outcomes[0]
        outcomes[0] = Outcome(
            only.name, only.min, only.max, only.better, only.mcid, only.label, primary=True
        )
    return tuple(outcomes)


def _parse_analysis(raw: Mapping[str, Any], chk: Checker, design: Design | None) -> AnalysisPlan:
    chk.unknown(raw, "[analysis]", _TABLE_KEYS["analysis"])
    alpha = chk.number(raw, "alpha", "analysis", default=0.05)
    if alpha is not None and not limits.MIN_ALPHA <= alpha <= limits.MAX_ALPHA:
        chk.add(
            f"analysis.alpha = {alpha:g} must lie from {limits.MIN_ALPHA:g} to "
            f"{limits.MAX_ALPHA:g} (usually 0.05)"
        )
        alpha = None
    explicit = "min_days_per_period" in raw
    default = 1 if design is None else default_min_days(design.period_days, design.washout_days)
    min_days = chk.integer(raw, "min_days_per_period", "analysis", 1, default=default)
    if explicit and min_days is not None and design is not None:
        counted = design.period_days - design.washout_days
        if min_days > counted:
            chk.add(
                f"analysis.min_days_per_period = {min_days} is more than the {counted} "
                "post-washout days of a period; no period could ever count"
            )
    trend = raw.get("trend", False)
    if not isinstance(trend, bool):
        chk.add(f"analysis.trend = {trend!r} must be true or false")
        trend = False
    prior = Prior()
    raw_prior = raw.get("prior")
    if raw_prior is not None:
        if not isinstance(raw_prior, dict):
            chk.add("analysis.prior must be a table ([analysis.prior])")
        else:
            prior = _parse_prior(raw_prior, chk) or prior
    return AnalysisPlan(alpha or 0.05, min_days or default, trend, prior, explicit)


def _parse_prior(raw: Mapping[str, Any], chk: Checker) -> Prior | None:
    chk.unknown(raw, "[analysis.prior]", _TABLE_KEYS["prior"])
    kind = chk.choice(raw, "kind", "analysis.prior", PRIORS, default="reference")
    if kind is None:
        return None
    if kind != "normal-inverse-gamma":
        extra = [k for k in ("kappa0", "alpha0", "beta0") if k in raw]
        if extra and kind == "reference":
            chk.add(
                f"analysis.prior: {', '.join(extra)} apply only to kind = 'normal-inverse-gamma'"
            )
        return Prior(kind=kind)
    mu0 = chk.number(raw, "mu0", "analysis.prior", default=0.0)
    values = {}
    for key in ("kappa0", "alpha0", "beta0"):
        value = chk.number(raw, key, "analysis.prior")
        if value is not None and value <= 0:
            chk.add(f"analysis.prior.{key} = {value:g} must be greater than 0")
            value = None
        values[key] = value
    if mu0 is None or None in values.values():
        return None
    return Prior(kind=kind, mu0=mu0, **values)


def _check_length(trial: Trial, design: Design, chk: Checker) -> None:
    """The whole schedule: at most ten years, and ending by 2200-12-31."""
    days = design.run_in_days + 2 * design.cycles * design.period_days
    if days > limits.MAX_TRIAL_DAYS:
        chk.add(
            f"design: run_in_days + 2 x cycles x period_days = {days} days; a trial lasts at most "
            f"{limits.MAX_TRIAL_DAYS} days (ten years)"
        )
    elif (limits.LAST_DATE - trial.start).days < days - 1:
        chk.add(
            f"trial.start = {trial.start}: the schedule's {days} days would end after "
            f"{limits.LAST_DATE}; the last scheduled day must lie in the years "
            f"{limits.FIRST_DATE.year} to {limits.LAST_DATE.year}"
        )


def parse(
    raw: Mapping[str, Any], path: str | None = None
) -> tuple[
    Trial,
    Design,
    tuple[Outcome, ...],
    AnalysisPlan,
    tuple[str, ...],
    tuple[StopRule, ...],
    tuple[tuple[str, tuple[str, ...]], ...],
]:
    """Validate a parsed TOML document and build the protocol's parts.

    Raises
    ------
    ProtocolError
        Listing every problem found, each naming its key and what would be valid.
    """
    chk = Checker()
    chk.unknown(raw, "protocol", _TOP_KEYS)
    tables = {}
    for name in ("trial", "design", "diary", "analysis"):
        value = raw.get(name, {})
        if not isinstance(value, dict):
            chk.add(f"[{name}] must be a table")
            value = {}
        tables[name] = value
    for name in ("trial", "design"):
        if name not in raw:
            chk.add(f"the [{name}] table is missing")
    trial = _parse_trial(tables["trial"], chk) if "trial" in raw else None
    design = _parse_design(tables["design"], chk) if "design" in raw else None
    chk.unknown(tables["diary"], "[diary]", _TABLE_KEYS["diary"])
    columns = tables["diary"].get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        chk.add("diary.columns must be a list of column names in quotes")
        columns = []
    too_many = len(columns) > limits.MAX_DIARY_COLUMNS
    if too_many:  # one problem, not one per name; the rules may still name them
        chk.add(f"diary.columns: {len(columns)} names; at most {limits.MAX_DIARY_COLUMNS}")
    outcomes = _parse_outcomes(raw.get("outcomes"), chk)
    names = {o.name for o in outcomes}
    counts = Counter(columns)
    for column in [] if too_many else columns:
        if not chk.name(column, "diary.columns"):
            continue
        if column in RESERVED:
            chk.add(
                f"diary.columns: {column!r} is a name nof1 uses itself; choose another "
                f"(reserved: {', '.join(RESERVED)})"
            )
        if column in names or counts[column] > 1:
            chk.add(
                f"diary.columns: {column!r} is listed twice or clashes with the date or an "
                "outcome column; list each extra column once"
            )
            break
    analysis = _parse_analysis(tables["analysis"], chk, design)
    raw_outcomes = raw.get("outcomes")
    declared = frozenset(
        entry["name"]
        for entry in (raw_outcomes if isinstance(raw_outcomes, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    )
    scope = RuleScope({o.name: o for o in outcomes}, tuple(columns), declared)
    rules = parse_rules(raw.get("stop_rules"), chk, scope, design)
    categories = parse_categories(tables["diary"], chk, columns, outcomes, rules)
    if trial is not None and design is not None:
        _check_length(trial, design, chk)
    chk.problems += parse_diary_options(raw)[1]  # the reading keys of real-world diaries
    if chk.problems or trial is None or design is None:
        raise ProtocolError(chk.problems or ["the [trial] or [design] table is incomplete"], path)
    return trial, design, outcomes, analysis, tuple(columns), rules, categories
