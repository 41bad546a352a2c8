"""How a real-world diary is to be read: the ``[diary]`` keys beyond ``columns``.

This module owns the protocol keys of diaries from apps, spreadsheets and REDCap: several entries a
day and how they become one value (``entries_per_day``, ``aggregate``, a per-outcome
``aggregate``, ``time_column``), what the patient actually took (``arm_column``, ``arm_values``)
and export headers renamed to the protocol's names (``rename``). :func:`parse_diary_options`
checks them and says what would be valid; :class:`DiaryOptions` carries them on the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGGREGATES",
    "DIARY_KEYS",
    "ENTRIES_PER_DAY",
    "DiaryOptions",
    "parse_diary_options",
]

AGGREGATES = ("mean", "median", "min", "max", "first", "last")
ENTRIES_PER_DAY = ("one", "several")
DIARY_KEYS = ("entries_per_day", "aggregate", "time_column", "arm_column", "arm_values", "rename")
"""The ``[diary]`` keys this module owns (``columns`` and ``categories`` are owned elsewhere)."""
ARMS = ("treatment", "control")
AGG_ORDERED = ("first", "last")
"""Aggregates that need the entries of a day in time order."""


@dataclass(frozen=True)
class DiaryOptions:
    """The reading options of a diary (``[diary]`` keys; every default reads one row a day).

    Attributes
    ----------
    entries_per_day
        ``one`` (a second row for a date is an error) or ``several``.
    aggregate
        How several entries of a day become one value: one of :data:`AGGREGATES`.
    outcome_aggregate
        ``(outcome, aggregate)`` pairs that override ``aggregate`` for one outcome.
    time_column
        The column that orders a day's entries (``date`` itself when it holds timestamps).
    arm_column
        The column recording what the patient actually took that day.
    arm_values
        ``(arm, values)`` for ``treatment`` and ``control``: the cells that record each arm,
        matched trimmed and case-insensitively (numerically when both read as numbers).
    rename
        ``(export header, protocol name)`` pairs.
    """

    entries_per_day: str = "one"
    aggregate: str = "mean"
    outcome_aggregate: tuple[tuple[str, str], ...] = ()
    time_column: str | None = None
    arm_column: str | None = None
    arm_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rename: tuple[tuple[str, str], ...] = ()

    @property
    def several(self) -> bool:
        """True when a day may have several entries."""
        return self.entries_per_day == "several"

    def aggregate_of(self, column: str) -> str:
        """The aggregate of ``column``: its outcome's own, else the ``[diary]`` one."""
        return dict(self.outcome_aggregate).get(column, self.aggregate)

    def to_toml(self) -> dict[str, Any]:
        """The ``[diary]`` keys that differ from the defaults, ready for TOML."""
        out: dict[str, Any] = {}
        if self.several:
            out["entries_per_day"] = self.entries_per_day
            out["aggregate"] = self.aggregate
        if self.time_column:
            out["time_column"] = self.time_column
        if self.arm_column:
            out["arm_column"] = self.arm_column
            out["arm_values"] = {arm: list(values) for arm, values in self.arm_values}
        if self.rename:
            out["rename"] = dict(self.rename)
        return out


def _text_list(value: Any) -> list[str] | None:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            return None
        text = str(item).strip()
        if not text:
            return None
        out.append(text)
    return out or None


def _outcome_aggregates(raw_outcomes: Any, problems: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for i, entry in enumerate(raw_outcomes if isinstance(raw_outcomes, list) else [], start=1):
        if not isinstance(entry, dict) or "aggregate" not in entry:
            continue
        value = entry["aggregate"]
        if value not in AGGREGATES:
            problems.append(
                f"outcomes[{i}].aggregate = {value!r} is not valid; valid values are "
                f"{', '.join(AGGREGATES)}"
            )
        elif isinstance(entry.get("name"), str):
            pairs.append((entry["name"], value))
    return pairs


def _arm_values(raw: Any, problems: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(raw, dict) or set(raw) != set(ARMS):
        problems.append(
            "diary.arm_values must be a table with the keys treatment and control, e.g. "
            '{ treatment = ["1", "yes"], control = ["0", "no"] }'
        )
        return ()
    out = []
    seen: dict[str, str] = {}
    for arm in ARMS:
        values = _text_list(raw[arm])
        if values is None:
            problems.append(
                f"diary.arm_values.{arm} must be a list of non-blank values (text or numbers)"
            )
            return ()
        for value in values:
            key = value.casefold()
            if key in seen and seen[key] != arm:
                problems.append(
                    f"diary.arm_values: {value!r} records both treatment and control; give each "
                    "value to one arm"
                )
                return ()
            seen[key] = arm
        out.append((arm, tuple(values)))
    return tuple(out)


@dataclass(frozen=True)
class _Document:
    """The parts of a protocol document the reading keys are checked against."""

    diary: dict[str, Any]
    raw_outcomes: Any
    outcomes: list[str]
    columns: list[str]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Document:
        diary = raw.get("diary", {})
        diary = diary if isinstance(diary, dict) else {}
        raw_outcomes = raw.get("outcomes")
        outcomes = [
            e["name"]
            for e in (raw_outcomes if isinstance(raw_outcomes, list) else [])
            if isinstance(e, dict) and isinstance(e.get("name"), str)
        ]
        columns = diary.get("columns", [])
        columns = [c for c in columns if isinstance(c, str)] if isinstance(columns, list) else []
        return cls(diary, raw_outcomes, outcomes, columns)


def parse_diary_options(raw: Mapping[str, Any]) -> tuple[DiaryOptions, list[str]]:
    """Check the reading keys of a parsed protocol document.

    Parameters
    ----------
    raw
        The whole TOML document (its ``[diary]`` table and ``[[outcomes]]`` are read).

    Returns
    -------
    options, problems
        The options (defaults where a key is invalid) and one message per problem, naming the
        key and what would be valid.
    """
    problems: list[str] = []
    doc = _Document.of(raw)
    entries, aggregate = _entries_and_aggregate(doc.diary, problems)
    per_outcome = _outcome_aggregates(doc.raw_outcomes, problems)
    if entries == "one":
        _check_one_entry(doc.diary, per_outcome, problems)
    time_column = _time_column(doc, entries, problems)
    if time_column is None and entries == "several":
        _check_order_needed([aggregate, *(a for _, a in per_outcome)], problems)
    arm_column, arm_values = _arm(doc, problems)
    rename = _rename(doc, time_column, problems)
    options = DiaryOptions(
        entries,
        aggregate,
        tuple(per_outcome),
        time_column,
        arm_column,
        arm_values,
        rename,
    )
    return options, problems


def _entries_and_aggregate(diary: Mapping[str, Any], problems: list[str]) -> tuple[str, str]:
    """``entries_per_day`` and ``aggregate`` (their defaults when invalid)."""
    entries = diary.get("entries_per_day", "one")
    if entries not in ENTRIES_PER_DAY:
        problems.append(
            f"diary.entries_per_day = {entries!r} is not valid; valid values are one, several"
        )
        entries = "one"
    aggregate = diary.get("aggregate", "mean")
    if aggregate not in AGGREGATES:
        problems.append(
            f"diary.aggregate = {aggregate!r} is not valid; valid values are "
            f"{', '.join(AGGREGATES)}"
        )
        aggregate = "mean"
    return entries, aggregate


def _check_one_entry(
    diary: Mapping[str, Any], per_outcome: list[tuple[str, str]], problems: list[str]
) -> None:
    """With one entry a day, no aggregate may be given (neither ``[diary]`` nor an outcome's)."""
    given = ["diary.aggregate"] * ("aggregate" in diary) + [
        f"outcome {name!r} aggregate" for name, _ in per_outcome
    ]
    if given:
        problems.append(
            f"{', '.join(given)} applies only to several entries a day; set diary."
            "entries_per_day = 'several' or remove it"
        )


def _time_column(doc: _Document, entries: str, problems: list[str]) -> str | None:
    """``time_column``: a column name, not an outcome, for several entries a day."""
    time_column = doc.diary.get("time_column")
    if time_column is None:
        return None
    if not isinstance(time_column, str) or not time_column.strip():
        problems.append("diary.time_column must be a column name in quotes")
        return None
    if time_column in doc.outcomes:
        problems.append(
            f"diary.time_column = {time_column!r} is an outcome; name the column holding the "
            "time of each entry (or 'date' when it holds timestamps)"
        )
        return None
    if entries == "one":
        problems.append(
            "diary.time_column orders several entries of a day; set diary.entries_per_day = "
            "'several' or remove it"
        )
    return time_column


def _check_order_needed(aggregates: list[str], problems: list[str]) -> None:
    """Without a time column, no aggregate may need the entries of a day in time order."""
    needs = sorted({a for a in aggregates if a in AGG_ORDERED})
    if needs:
        problems.append(
            f"aggregate {' and '.join(needs)} needs diary.time_column to order a day's "
            "entries (use 'date' when the date column holds timestamps)"
        )


def _arm(
    doc: _Document, problems: list[str]
) -> tuple[str | None, tuple[tuple[str, tuple[str, ...]], ...]]:
    """``arm_column`` (a declared column) and the ``arm_values`` that go with it."""
    diary = doc.diary
    arm_column = diary.get("arm_column")
    if arm_column is None:
        if "arm_values" in diary:
            problems.append("diary.arm_values needs diary.arm_column, the column it applies to")
        return None, ()
    if not isinstance(arm_column, str) or arm_column not in doc.columns:
        problems.append(
            f"diary.arm_column = {arm_column!r} must be one of the diary.columns "
            f"({', '.join(doc.columns) or 'none declared'}); declare the column that records the "
            "arm taken"
        )
        arm_column = None
    if "arm_values" not in diary:
        problems.append(
            "diary.arm_values is missing; say which cells record each arm, e.g. "
            '{ treatment = ["1", "yes"], control = ["0", "no"] }'
        )
        return arm_column, ()
    return arm_column, _arm_values(diary["arm_values"], problems)


def _rename(
    doc: _Document, time_column: str | None, problems: list[str]
) -> tuple[tuple[str, str], ...]:
    """``rename``: each export header to one distinct name of the date, an outcome or a column."""
    raw_rename = doc.diary.get("rename", {})
    if not isinstance(raw_rename, dict):
        problems.append('diary.rename must be a table, e.g. { "Pain score" = "pain" }')
        raw_rename = {}
    targets = {"date", *doc.outcomes, *doc.columns, *([time_column] if time_column else [])}
    rename: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for source, target in raw_rename.items():
        if not isinstance(target, str) or target not in targets:
            problems.append(
                f"diary.rename: {source!r} = {target!r} must name the date, an outcome or a "
                f"declared column: {', '.join(sorted(targets))}"
            )
        elif target in seen:
            problems.append(
                f"diary.rename: {seen[target]!r} and {source!r} both become {target!r}; rename "
                "one header to each name"
            )
        else:
            seen[target] = source
            rename.append((source.strip(), target))
    return tuple(rename)
