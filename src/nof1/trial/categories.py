"""Categories of text columns, the ``in`` comparator and ``within_days``: their protocol checks.

This module owns the parts of the protocol's validation that the fail-closed stop rules added:
``[diary] categories`` (each a declared text column with distinct categories, and rules on it
naming only those), the ``in = [...]`` list of a rule and its ``within_days`` window; and which
declared category a diary cell names (:func:`declared_category`). The checks
add their problems to the collector of :func:`nof1.trial.parse.parse`, so every problem is still
listed in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Outcome, StopRule

__all__ = ["declared_category", "parse_categories", "parse_in", "parse_within"]


def _is_number(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value)


def declared_category(categories: tuple[str, ...], cell: str) -> str | None:
    """The declared category a diary cell names, as the protocol spells it, or None.

    Matching is trimmed and case-insensitive: ``" Mild "`` is the category ``mild``, and is read
    (and shown) as ``mild``.
    """
    folded = cell.strip().casefold()
    return next((c for c in categories if c.casefold() == folded), None)


def parse_in(value: Any, where: str, chk: Any) -> tuple[str, ...] | None:
    """``in = [...]``: a non-empty list of categories (text or numbers), kept as text."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) or _is_number(v) for v in value)
        or any(isinstance(v, str) and (not v.strip() or not v.isprintable()) for v in value)
    ):
        chk.add(
            f"{where}.in = {value!r} must be a non-empty list of categories, e.g. "
            '["serious"] (none blank: a blank diary cell is no entry, so it can never match)'
        )
        return None
    return tuple(v if isinstance(v, str) else f"{v:g}" for v in value)


def parse_within(entry: Mapping[str, Any], where: str, chk: Any, for_days: int | None):
    """``within_days``: None when absent, False when invalid, else the window length."""
    if "within_days" not in entry:
        return None
    within = chk.integer(entry, "within_days", where, 1)
    if within is None:
        return False
    if for_days is not None and within < for_days:
        chk.add(
            f"{where}.within_days = {within} must be at least for_days = {for_days} (a rule fires "
            "on at least for_days of any within_days consecutive days)"
        )
        return False
    return within


def parse_categories(
    diary: Mapping[str, Any],
    chk: Any,
    columns: list[str],
    outcomes: tuple[Outcome, ...],
    rules: tuple[StopRule, ...],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``[diary] categories``: each a declared text column with a list of distinct categories;
    a rule on such a column may only compare it (``equals``, ``in``) with declared categories."""
    raw = diary.get("categories", {})
    if not isinstance(raw, dict):
        chk.add(
            'diary.categories must be a table such as { adverse_event = ["none", "mild", '
            '"moderate", "serious"] }'
        )
        return ()
    names = {o.name for o in outcomes}
    out = []
    for column, values in raw.items():
        where = f"diary.categories.{column}"
        if column in names:
            chk.add(
                f"{where}: {column!r} is an outcome (a number); categories are for text columns"
            )
            continue
        if column not in columns:
            chk.add(
                f"{where}: {column!r} is not declared under [diary] columns; declared columns are "
                f"{', '.join(columns) or '(none)'}"
            )
            continue
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            chk.add(f"{where} must be a non-empty list of categories in quotes")
            continue
        folded = [v.strip().casefold() for v in values]
        if len(set(folded)) < len(folded):
            chk.add(f"{where} lists a category twice (matching ignores case and spaces)")
            continue
        out.append((column, tuple(v.strip() for v in values)))
    declared = dict(out)
    for rule in rules:
        cats = declared.get(rule.column or "") if rule.kind == "threshold" else None
        if cats is None:
            continue
        where = f"stop_rules ({rule.name})"
        if rule.comparison not in ("equals", "in"):
            chk.add(
                f"{where}: {rule.comparison} compares numbers, but {rule.column!r} has declared "
                "categories; use equals or in"
            )
            continue
        targets = rule.value if isinstance(rule.value, tuple) else (rule.value,)
        known = {c.casefold() for c in cats}
        for target in targets:
            if str(target).strip().casefold() not in known:
                chk.add(
                    f"{where}: {target!r} is not a declared category of {rule.column!r}; valid "
                    f"categories are {', '.join(cats)}"
                )
    return tuple(out)
