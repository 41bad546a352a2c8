"""The protocol: what the clinician fixes before the first dose.

This module owns reading, validating and writing the protocol TOML file (docs/protocol.md). A
protocol that cannot be right is refused with every problem listed at once, each naming its key and
saying what would be valid. The checks themselves live in :mod:`nof1.trial.parse`, the settings it
is made of in :mod:`nof1.trial.model` (their names are re-exported here, since every reader of a
protocol needs them); stop-rule evaluation lives in :mod:`nof1.safety.monitor`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProtocolError
from .diary_options import DiaryOptions
from .model import (
    ACTIONS,
    BLINDINGS,
    COMPARISONS,
    DURINGS,
    SCHEMES,
    AnalysisPlan,
    Design,
    Outcome,
    Prior,
    StopRule,
    Trial,
)

if TYPE_CHECKING:
    from .schedule import Schedule

__all__ = [
    "ACTIONS",
    "BLINDINGS",
    "COMPARISONS",
    "DURINGS",
    "SCHEMES",
    "AnalysisPlan",
    "Design",
    "Outcome",
    "Prior",
    "Protocol",
    "StopRule",
    "Trial",
]


@dataclass(frozen=True)
class Protocol:
    """A validated N-of-1 protocol.

    Build one with :meth:`Protocol.load` (from a TOML file) or :meth:`Protocol.from_dict`.

    Examples
    --------
    >>> from nof1 import Protocol, example_paths
    >>> protocol = Protocol.load(example_paths()[0])
    >>> protocol.design.cycles, protocol.primary.name
    (4, 'pain')
    """

    trial: Trial
    design: Design
    outcomes: tuple[Outcome, ...]
    analysis: AnalysisPlan = field(default_factory=AnalysisPlan)
    diary_columns: tuple[str, ...] = ()
    stop_rules: tuple[StopRule, ...] = ()
    path: str | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``[diary] categories``: (column, its declared categories) pairs, in the file's order."""
    reading: DiaryOptions = field(default_factory=DiaryOptions)
    """How the diary is read: several entries a day, the arm taken, renamed headers."""

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls, raw: Mapping[str, Any], path: str | None = None, sha256: str | None = None
    ) -> Protocol:
        """Validate a parsed TOML document; raise :class:`ProtocolError` listing every problem."""
        from .diary_options import parse_diary_options
        from .parse import parse

        trial, design, outcomes, analysis, columns, rules, categories = parse(raw, path)
        reading = parse_diary_options(raw)[0]
        return cls(
            trial,
            design,
            outcomes,
            analysis,
            columns,
            rules,
            path,
            sha256,
            categories=categories,
            reading=reading,
        )

    @classmethod
    def load(cls, path: str | Path, max_bytes: int | None = None) -> Protocol:
        """Read and validate a protocol TOML file.

        Parameters
        ----------
        path
            The protocol file (UTF-8 TOML).
        max_bytes
            Refuse a larger file (default :data:`nof1.limits.MAX_PROTOCOL_BYTES`, 1 MB).

        Raises
        ------
        ProtocolError
            The file is missing or too large, is not valid TOML (the message names the line and
            column and quotes the line), or breaks a rule of the protocol (every problem is listed,
            each naming its key; see docs/protocol.md).
        """
        from ..limits import MAX_PROTOCOL_BYTES, read_limited

        path = Path(path)
        try:
            data = read_limited(path, max_bytes or MAX_PROTOCOL_BYTES, "protocol")
        except OSError as exc:
            raise ProtocolError(f"cannot read the protocol: {exc.strerror}", str(path)) from None
        except ValueError as exc:
            raise ProtocolError(str(exc), str(path)) from None
        return cls.loads(data, str(path))

    @classmethod
    def loads(cls, data: bytes | str, path: str | None = None) -> Protocol:
        """Validate a protocol given as TOML text (or bytes)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                f"not UTF-8 text (byte {exc.start}); save the protocol as UTF-8", path
            ) from None
        raw = _parse_toml(text, path)
        return cls.from_dict(raw, path, hashlib.sha256(data).hexdigest())

    # -- derived ------------------------------------------------------------------------------

    @property
    def primary(self) -> Outcome:
        """The primary outcome (judged alone, without multiplicity adjustment)."""
        return next(o for o in self.outcomes if o.primary)

    def outcome(self, name: str) -> Outcome:
        """The outcome called ``name``."""
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    def bayes_prior(self, outcome: Outcome):
        """The pre-specified prior of the Bayesian model for ``outcome``.

        Returns None for the reference prior, a :class:`nof1.stats.priors.ScepticalPrior` for the
        ``sceptical`` kind (mu ~ Student t(3 df, centre 0, scale mcid / 2.3534) from the
        outcome's MCID, 1/sigma^2 on the variance), else a :class:`nof1.stats.priors.NIGPrior`.
        """
        prior = self.analysis.prior
        if prior.kind == "reference":
            return None
        from ..stats.priors import NIGPrior, ScepticalPrior

        if prior.kind == "sceptical":
            return ScepticalPrior.from_mcid(outcome.mcid)
        return NIGPrior(prior.mu0, prior.kappa0, prior.alpha0, prior.beta0)

    def categories_of(self, column: str) -> tuple[str, ...] | None:
        """The declared categories of a text column (``[diary] categories``), or None."""
        return dict(self.categories).get(column)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every diary column besides ``date``: outcomes first, then the declared columns."""
        return tuple(o.name for o in self.outcomes) + self.diary_columns

    def schedule(self) -> Schedule:
        """The day-by-day schedule (a pure function of the protocol)."""
        from .schedule import Schedule

        return Schedule.from_protocol(self)

    # -- writing ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The protocol as a TOML-ready dictionary (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "trial": _drop_none(_as_dict(self.trial)),
            "design": _drop_none(_as_dict(self.design)),
            "diary": {"columns": list(self.diary_columns), **self.reading.to_toml()}
            | ({"categories": {c: list(v) for c, v in self.categories}} if self.categories else {}),
            "outcomes": [_as_dict(o) for o in self.outcomes],
        }
        for outcome, aggregate in self.reading.outcome_aggregate:
            next(o for o in out["outcomes"] if o["name"] == outcome)["aggregate"] = aggregate
        analysis: dict[str, Any] = {"alpha": self.analysis.alpha}
        if self.analysis.min_days_explicit:  # else the design's default, recomputed on load
            analysis["min_days_per_period"] = self.analysis.min_days_per_period
        analysis["trend"] = self.analysis.trend
        if self.analysis.prior.kind != "reference":
            analysis["prior"] = _drop_none(_as_dict(self.analysis.prior))
        out["analysis"] = analysis
        if self.stop_rules:
            out["stop_rules"] = [_rule_to_dict(rule) for rule in self.stop_rules]
        return out

    def save(self, path: str | Path) -> None:
        """Write the protocol as TOML (comments of the original file are not kept)."""
        import tomli_w

        Path(path).write_text(tomli_w.dumps(self.to_dict()), encoding="utf-8")


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_BARE_DATE = re.compile(r"^\s*[\w.\"'-]+\s*=\s*(\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4})\s*(#.*)?$")


def _parse_toml(text: str, path: str | None) -> dict[str, Any]:
    """Parse TOML; a syntax error names its line and column and quotes the line."""
    from ..limits import MAX_TOML_DEPTH, toml_depth

    depth, line = toml_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise ProtocolError(
            f"line {line}: brackets or braces nested {depth} deep; a protocol nests at most "
            f"{MAX_TOML_DEPTH}",
            path,
            line,
        )
    toml = _toml()
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        if where is None:
            raise ProtocolError(f"not valid TOML: {message}", path) from None
        line, column = int(where.group(1)), int(where.group(2))
        lines = text.splitlines()
        quoted = lines[line - 1].strip() if line <= len(lines) else ""
        reason = f"not valid TOML ({message[: where.start()]})"
        date = _BARE_DATE.match(quoted)
        if date:
            reason = f"{date.group(1)} is not a date; dates are written 2026-10-15 (year-month-day)"
        raise ProtocolError(
            f"line {line}, column {column}: {reason}, in: {quoted[:120]}",
            path,
            line,
            column,
        ) from None
    except RecursionError:  # nesting the depth scan did not see; never a traceback
        raise ProtocolError("not valid TOML: nested too deeply", path) from None


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _rule_to_dict(rule: StopRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name}
    if rule.kind == "missing":
        out["missing_days"] = rule.missing_days
    elif rule.kind == "harm":
        out["outcome"] = rule.column
        out["probability_of_harm_at_least"] = rule.probability
    else:
        out["column"] = rule.column
        value = rule.value
        out[rule.comparison or "at_least"] = list(value) if isinstance(value, tuple) else value
        if rule.for_days != 1:
            out["for_days"] = rule.for_days
        if rule.within_days is not None:
            out["within_days"] = rule.within_days
        if rule.during != "any":
            out["during"] = rule.during
    out["action"] = rule.action
    return out
