"""The "Design a protocol" form: form fields to a protocol document and back.

This module owns the form's field names and how each becomes a protocol key: empty fields are
left out (so the protocol's own checks say what is missing, in the words of ``nof1 check``),
numbers are written as numbers, and text that is not a number stays text (so ``cycles = "four"``
is reported, never guessed). Stop rules, outcomes and extra diary columns are numbered rows; a
form without JavaScript grows them with an "add rows" button.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..trial.protocol import Design, Outcome, Prior, Trial

__all__ = [
    "CONDITIONS",
    "DesignForm",
    "form_from_document",
    "protocol_document",
    "protocol_toml",
    "read_toml",
]


def _keys(model: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(model))


TRIAL_KEYS = _keys(Trial)
DESIGN_KEYS = _keys(Design)
OUTCOME_KEYS = tuple(k for k in _keys(Outcome) if k != "primary")  # primary: a radio button
PRIOR_KEYS = _keys(Prior)
NUMERIC = frozenset(
    f.name
    for model in (Design, Outcome, Prior)
    for f in fields(model)
    if str(f.type).split(" |")[0] in ("int", "float")
)
"""Keys whose form text is written as a number when it reads as one (else kept, and refused)."""
RULE_KEYS = ("name", "action", "condition", "column", "value", "for_days", "within_days", "during")
HARM = "probability_of_harm_at_least"
MISSING = "missing_days"
LIST_COMPARISONS = ("in",)
"""Comparisons whose value is a list (written in the form as comma-separated values)."""

EMPTY_ROWS = 2
"""Empty rows offered after the filled ones, and added by each "add rows" press."""


def _conditions() -> tuple[str, ...]:
    from ..trial.protocol import COMPARISONS

    extra = tuple(c for c in LIST_COMPARISONS if c not in COMPARISONS)
    return (*COMPARISONS, *extra, MISSING, HARM)


CONDITIONS = _conditions()
"""Every condition a stop rule can take, in the order the form offers them."""


@dataclass
class DesignForm:
    """The form's values, as text, ready for the template (and read back from a POST)."""

    trial: dict[str, str] = field(default_factory=dict)
    design: dict[str, str] = field(default_factory=dict)
    analysis: dict[str, str] = field(default_factory=dict)
    prior: dict[str, str] = field(default_factory=dict)
    outcomes: list[dict[str, str]] = field(default_factory=list)
    primary: int = 0
    columns: list[dict[str, str]] = field(default_factory=list)
    rules: list[dict[str, str]] = field(default_factory=list)
    plan: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> DesignForm:
        """Read the posted fields (``trial-id``, ``outcome-0-name``, ``rule-3-value``, ...)."""

        def table(prefix: str, keys: tuple[str, ...]) -> dict[str, str]:
            return {k: form.get(f"{prefix}-{k}", "").strip() for k in keys}

        def rows(prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
            count = _count(form.get(f"{prefix}-count"))
            return [table(f"{prefix}-{i}", keys) for i in range(count)]

        analysis = table("analysis", ("alpha", "min_days_per_period"))
        analysis["trend"] = "true" if form.get("analysis-trend") else ""
        return cls(
            trial=table("trial", TRIAL_KEYS),
            design=table("design", DESIGN_KEYS),
            analysis=analysis,
            prior=table("prior", PRIOR_KEYS),
            outcomes=rows("outcome", OUTCOME_KEYS),
            primary=_count(form.get("primary")),
            columns=rows("column", ("name", "categories")),
            rules=rows("rule", RULE_KEYS),
            plan=table("plan", ("effect", "sd", "rho", "sims", "method", "seed")),
        )

    def add_rows(self) -> None:
        """Offer :data:`EMPTY_ROWS` more empty outcomes, columns and stop rules."""
        for rows, keys in (
            (self.outcomes, OUTCOME_KEYS),
            (self.columns, ("name", "categories")),
            (self.rules, RULE_KEYS),
        ):
            rows.extend({k: "" for k in keys} for _ in range(EMPTY_ROWS))

    def trimmed(self) -> DesignForm:
        """The same form with empty rows dropped, then :data:`EMPTY_ROWS` empty ones added."""
        keep = {"action", "condition", "during", "better"}  # selects always hold a value
        filled = [r for r in self.outcomes if _filled(r, keep)]
        primary = self.outcomes[self.primary] if self.primary < len(self.outcomes) else None
        out = DesignForm(
            dict(self.trial),
            dict(self.design),
            dict(self.analysis),
            dict(self.prior),
            filled,
            filled.index(primary) if primary in filled else 0,
            [r for r in self.columns if _filled(r, keep)],
            [r for r in self.rules if _filled(r, keep)],
            dict(self.plan),
        )
        out.add_rows()
        return out


def _count(text: str | None) -> int:
    try:
        return max(0, min(int(text or 0), 500))
    except ValueError:
        return 0


def _filled(row: Mapping[str, str], ignore: set[str]) -> bool:
    return any(v for k, v in row.items() if k not in ignore)


def _scalar(text: str) -> Any:
    """A form value as TOML would hold it: a whole number, a number, a date, else the text."""
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        pass
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return _dt.date.fromisoformat(text)
        except ValueError:
            return text
    return text


def _given(row: Mapping[str, str], keys: tuple[str, ...], numeric: Collection[str] = ()):
    return {k: (_scalar(row[k]) if k in numeric else row[k]) for k in keys if row.get(k, "") != ""}


def _rule(row: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = _given(row, ("name",))
    condition, value = row.get("condition", ""), row.get("value", "")
    target = row.get("column", "")
    if condition == MISSING:
        if value:
            out[MISSING] = _scalar(value)
    else:
        if target:
            out["outcome" if condition == HARM else "column"] = target
        if condition in LIST_COMPARISONS:
            out[condition] = [_scalar(v.strip()) for v in value.split(",") if v.strip()]
        elif value:
            out[condition] = _scalar(value)
        if condition != HARM:
            out.update(_given(row, ("for_days", "within_days"), ("for_days", "within_days")))
            if row.get("during") not in ("", "any"):
                out["during"] = row["during"]
    out.update(_given(row, ("action",)))
    return out


def protocol_document(form: DesignForm) -> dict[str, Any]:
    """The protocol the form describes, as a TOML-ready dictionary (not yet validated)."""
    trial = _given(form.trial, TRIAL_KEYS, ("start",))
    if isinstance(trial.get("start"), (int, float)):
        trial["start"] = form.trial["start"]  # "2026" is not a date: let the check say so
    design = _given(form.design, DESIGN_KEYS, NUMERIC)
    doc: dict[str, Any] = {"trial": trial, "design": design}
    columns = [c for c in form.columns if c.get("name")]
    diary: dict[str, Any] = {"columns": [c["name"] for c in columns]}
    categories = {
        c["name"]: [v.strip() for v in c["categories"].split(",") if v.strip()]
        for c in columns
        if c.get("categories")
    }
    if categories:
        diary["categories"] = categories
    doc["diary"] = diary
    outcomes = []
    for i, row in enumerate(form.outcomes):
        if not _filled(row, {"better"}):
            continue
        entry = _given(row, OUTCOME_KEYS, NUMERIC)
        if i == form.primary:
            entry["primary"] = True
        outcomes.append(entry)
    doc["outcomes"] = outcomes
    counted = ("alpha", "min_days_per_period")
    analysis: dict[str, Any] = _given(form.analysis, counted, counted)
    analysis["trend"] = form.analysis.get("trend") == "true"
    prior = _given(form.prior, PRIOR_KEYS, NUMERIC)
    if prior and prior != {"kind": "reference"}:
        analysis["prior"] = prior
    doc["analysis"] = analysis
    rules = [_rule(r) for r in form.rules if _filled(r, {"action", "condition", "during"})]
    if rules:
        doc["stop_rules"] = rules
    return doc


def read_toml(text: str) -> dict[str, Any]:
    """A TOML document (raises ``ValueError``, with the line, when it is not valid TOML)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def protocol_toml(doc: Mapping[str, Any]) -> str:
    """TOML text of a protocol document, with a header saying where it came from."""
    import tomli_w

    from .. import __version__

    head = (
        f"# nof1 protocol, written by the nof1 {__version__} web page.\n"
        "# Check it with `nof1 check` (or the web page) after any edit; docs/protocol.md explains "
        "every key.\n\n"
    )
    return head + tomli_w.dumps(dict(doc))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    return str(value)


def form_from_document(doc: Mapping[str, Any], plan: Mapping[str, str] | None = None) -> DesignForm:
    """The form filled in from a parsed protocol TOML (e.g. the packaged example)."""

    def table(raw: Any, keys: tuple[str, ...]) -> dict[str, str]:
        return {k: _text(mapping(raw).get(k)) for k in keys}

    def mapping(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    def tables(value: Any) -> list[Mapping[str, Any]]:
        return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []

    analysis, diary = mapping(doc.get("analysis")), mapping(doc.get("diary"))
    categories = mapping(diary.get("categories"))
    columns = diary.get("columns") if isinstance(diary.get("columns"), list) else []
    outcomes = tables(doc.get("outcomes"))
    rules = []
    for raw in tables(doc.get("stop_rules")):
        condition = next((c for c in CONDITIONS if c in raw), CONDITIONS[0])
        row = table(raw, RULE_KEYS)
        row.update(
            condition=condition,
            value=_text(raw.get(condition)),
            column=_text(raw.get("column", raw.get("outcome"))),
            during=_text(raw.get("during")) or "any",
        )
        rules.append(row)
    form = DesignForm(
        trial=table(doc.get("trial"), TRIAL_KEYS),
        design=table(doc.get("design"), DESIGN_KEYS),
        analysis=table(analysis, ("alpha", "min_days_per_period", "trend")),
        prior=table(analysis.get("prior"), PRIOR_KEYS),
        outcomes=[table(o, OUTCOME_KEYS) for o in outcomes],
        primary=next((i for i, o in enumerate(outcomes) if o.get("primary") is True), 0),
        columns=[{"name": str(c), "categories": _text(categories.get(str(c)))} for c in columns],
        rules=rules,
        plan=dict(plan or {}),
    )
    return form.trimmed()
