"""Stop rules in the protocol: the ``[[stop_rules]]`` syntax and its checks.

This module owns the checks of each rule (docs/protocol.md): a name and an action, exactly one
condition, and what each kind of condition takes: a threshold on an outcome or a declared diary
column, days in a row without an entry, or a probability of harm. Problems go to the collector of
:func:`nof1.trial.parse.parse`, so every problem is still listed in one pass.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import limits
from .categories import parse_in, parse_within
from .checker import Checker, is_number
from .model import ACTIONS, COMPARISONS, DURINGS, Design, Outcome, StopRule

__all__ = ["RULE_KEYS", "RuleScope", "parse_rule", "parse_rules"]

RULE_KEYS = (
    "name",
    "action",
    "column",
    "outcome",
    *COMPARISONS,
    "for_days",
    "within_days",
    "during",
    "missing_days",
    "probability_of_harm_at_least",
)
"""The keys of a ``[[stop_rules]]`` table."""

_MISSING = "missing_days"
_HARM = "probability_of_harm_at_least"


@dataclass(frozen=True)
class RuleScope:
    """What a rule may name.

    Attributes
    ----------
    outcomes
        The valid outcomes by name.
    columns
        The ``[diary] columns``.
    declared
        Every outcome name declared, valid or not: a rule on an invalid outcome is not reported
        a second time.
    """

    outcomes: Mapping[str, Outcome]
    columns: tuple[str, ...] = ()
    declared: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Head:
    """What every rule has: its name, the prefix of its messages and its action (None: invalid)."""

    name: str
    where: str
    action: str | None


def parse_rules(
    raw: Any, chk: Checker, scope: RuleScope, design: Design | None
) -> tuple[StopRule, ...]:
    """The ``[[stop_rules]]`` array: each rule, unique names, and a run-in where a rule needs one.

    Invalid rules are left out; their problems are added to ``chk``.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        chk.add("stop_rules must be an array of tables ([[stop_rules]])")
        return ()
    if len(raw) > limits.MAX_STOP_RULES:
        chk.add(f"[[stop_rules]]: {len(raw)} rules; at most {limits.MAX_STOP_RULES}")
        return ()
    rules = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            chk.add(f"stop_rules[{i}] must be a table ([[stop_rules]])")
            continue
        rule = parse_rule(entry, i, chk, scope)
        if rule is None:
            continue
        if rule.name in seen:
            chk.add(f"stop_rules[{i}]: the name {rule.name!r} is used twice; names must be unique")
        seen.add(rule.name)
        if rule.kind == "threshold" and rule.comparison == "above_baseline_by" and design:
            if design.run_in_days == 0:
                chk.add(
                    f"stop_rules[{i}] ({rule.name}): above_baseline_by compares with the run-in "
                    "mean, but design.run_in_days = 0; add a run-in or use a fixed threshold"
                )
        if rule.kind == "threshold" and rule.during == "run-in" and design:
            if design.run_in_days == 0:
                chk.add(
                    f"stop_rules[{i}] ({rule.name}): during = 'run-in' but design.run_in_days = 0"
                )
        rules.append(rule)
    return tuple(rules)


def parse_rule(entry: Mapping[str, Any], i: int, chk: Checker, scope: RuleScope) -> StopRule | None:
    """Rule number ``i`` (from 1): None when invalid, its problems added to ``chk``."""
    head = _rule_head(entry, i, chk)
    condition = _condition(entry, head.where, chk)
    if condition is None:
        return None
    if condition == _MISSING:
        return _missing_rule(entry, head, chk)
    if condition == _HARM:
        return _harm_rule(entry, head, chk, scope)
    return _threshold_rule(entry, head, chk, scope, comparison=condition)


def _rule_head(entry: Mapping[str, Any], i: int, chk: Checker) -> _Head:
    """The rule's name (``rule i`` when missing), its keys and its action."""
    where = f"stop_rules[{i}]"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        chk.add(f"{where}.name is missing; give each rule a name the clinician will recognise")
        name = f"rule {i}"
    elif any(unicodedata.category(ch) == "Cc" for ch in name):
        # a carriage return or another control character would garble every verdict printed
        control = next(ch for ch in name if unicodedata.category(ch) == "Cc")
        chk.add(
            f"{where}.name = {name!r} holds a control character ({control!r}), which would "
            "garble the verdict and the monitor output; remove it"
        )
        where = f"stop_rules[{i}] ({name!r})"
    else:
        where = f"stop_rules[{i}] ({name})"
    chk.unknown(entry, where, RULE_KEYS)
    return _Head(name, where, chk.choice(entry, "action", where, ACTIONS))


def _condition(entry: Mapping[str, Any], where: str, chk: Checker) -> str | None:
    """The key of the rule's one condition; None (and a problem) for none or several."""
    given = [key for key in (*COMPARISONS, _MISSING, _HARM) if key in entry]
    if not given:
        chk.add(
            f"{where} has no condition; give one of {', '.join(COMPARISONS)}, missing_days or "
            "probability_of_harm_at_least"
        )
        return None
    if len(given) > 1:
        chk.add(f"{where} has {', '.join(given)}; a rule takes exactly one condition")
        return None
    return given[0]


def _missing_rule(entry: Mapping[str, Any], head: _Head, chk: Checker) -> StopRule | None:
    """``missing_days``: that many scheduled days in a row without an entry; nothing else."""
    for key in ("column", "outcome", "for_days", "within_days", "during"):
        if key in entry:
            chk.add(f"{head.where}: {key} does not apply to a missing_days rule; remove it")
    days = chk.integer(entry, _MISSING, head.where, 1)
    if head.action is None or days is None:
        return None
    return StopRule(head.name, head.action, "missing", missing_days=days)


def _harm_rule(
    entry: Mapping[str, Any], head: _Head, chk: Checker, scope: RuleScope
) -> StopRule | None:
    """``probability_of_harm_at_least``: a probability strictly between 0 and 1, on an outcome."""
    where = head.where
    target = entry.get("outcome", entry.get("column"))
    for key in ("for_days", "within_days", "during"):
        if key in entry:
            chk.add(f"{where}: {key} does not apply to a probability_of_harm rule; remove it")
    if target is not None and not isinstance(target, str):
        chk.add(
            f"{where}.outcome = {target!r} must be the name of one outcome: "
            f"{', '.join(scope.outcomes) or '(none declared)'}"
        )
        target = None
    elif target in scope.declared and target not in scope.outcomes:
        target = None  # the outcome itself is invalid; that problem is already reported
    elif target not in scope.outcomes:
        chk.add(
            f"{where}.outcome = {target!r} must name an outcome: "
            f"{', '.join(scope.outcomes) or '(none declared)'}"
        )
        target = None
    prob = chk.number(entry, _HARM, where)
    if prob is not None and not 0 < prob < 1:
        chk.add(f"{where}.{_HARM} = {prob:g} must lie strictly between 0 and 1")
        prob = None
    if None in (head.action, target, prob):
        return None
    return StopRule(head.name, head.action, "harm", column=target, probability=prob)


def _threshold_rule(
    entry: Mapping[str, Any], head: _Head, chk: Checker, scope: RuleScope, *, comparison: str
) -> StopRule | None:
    """A comparison on a column, for ``for_days`` (of ``within_days``) ``during`` some days."""
    where = head.where
    column = _rule_column(entry, where, chk, scope)
    value = _threshold_value(entry, where, chk, comparison=comparison, column=column, scope=scope)
    for_days = chk.integer(entry, "for_days", where, 1, default=1)
    within = parse_within(entry, where, chk, for_days)
    during = chk.choice(entry, "during", where, DURINGS, default="any")
    if None in (head.action, column, value, for_days, during) or within is False:
        return None
    return StopRule(
        head.name,
        head.action,
        "threshold",
        column,
        comparison,
        value,
        for_days,
        during,
        within_days=within,
    )


def _rule_column(
    entry: Mapping[str, Any], where: str, chk: Checker, scope: RuleScope
) -> str | None:
    """The column a threshold applies to: an outcome or a declared diary column."""
    if "column" in entry and "outcome" in entry:
        chk.add(f"{where} has both column and outcome; give one")
    column = entry.get("column", entry.get("outcome"))
    if not isinstance(column, str):
        chk.add(f"{where}.column is missing; name an outcome or a column declared in [diary]")
        return None
    if column in scope.declared and column not in scope.outcomes:
        return None  # the outcome itself is invalid; that problem is already reported
    if column not in scope.outcomes and column not in scope.columns:
        valid = list(scope.outcomes) + list(scope.columns)
        chk.add(
            f"{where}.column = {column!r} is neither an outcome nor declared under [diary] "
            f"columns; valid columns are {limits.short_list(valid) or '(none)'}"
        )
        return None
    return column


def _threshold_value(
    entry: Mapping[str, Any],
    where: str,
    chk: Checker,
    *,
    comparison: str,
    column: str | None,
    scope: RuleScope,
) -> Any:
    """The value compared with: text or a number (``equals``), categories (``in``), a number."""
    value = entry[comparison]
    if comparison == "equals":
        if not (isinstance(value, str) or is_number(value)):
            chk.add(f"{where}.equals = {value!r} must be text or a number")
            return None
        if isinstance(value, str) and (not value.strip() or not value.isprintable()):
            # a blank cell is no entry, so a blank 'equals' could never fire (yet read as checked)
            chk.add(
                f"{where}.equals = {value!r} must be text with something printable in it and no "
                "control characters (a blank diary cell is no entry: it can never match)"
            )
            return None
        return value
    if comparison == "in":
        return parse_in(value, where, chk)
    if not is_number(value):
        chk.add(f"{where}.{comparison} = {value!r} must be a number")
        return None
    if comparison == "above_baseline_by":
        if column is not None and column not in scope.outcomes:
            chk.add(
                f"{where}: above_baseline_by needs an outcome (it uses the outcome's 'better' "
                f"direction); {column!r} is a diary column"
            )
        if value <= 0:
            chk.add(f"{where}.above_baseline_by = {value:g} must be greater than 0")
    return float(value)
