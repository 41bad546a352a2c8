"""The problem collector of the protocol checks, and the number tests they share.

This module owns :class:`Checker`, which the checks of :mod:`nof1.trial.parse` and
:mod:`nof1.trial.stop_rules` fill with one message per problem (naming the key and what would be
valid) instead of stopping at the first, so a clinician fixes the file once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import limits

__all__ = ["Checker", "is_int", "is_number"]


def is_int(value: Any) -> bool:
    """True for a whole number (``bool`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a finite whole or decimal number."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


class Checker:
    """Collects problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def unknown(self, table: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.add(f"{where}: unknown key {key!r}; valid keys are {', '.join(allowed)}")

    def text(self, table: Mapping[str, Any], key: str, where: str, default: str | None = None):
        value = table.get(key, default)
        if value is None:
            self.add(f"{where}.{key} is missing; it must be text")
            return None
        if not isinstance(value, str):
            self.add(f"{where}.{key} = {value!r} must be text (in quotes)")
            return default
        return value

    def choice(self, table, key, where, options, default=None):
        value = table.get(key, default)
        if value is None:
            self.add(f"{where}.{key} is missing; valid values are {', '.join(options)}")
            return None
        if value not in options:
            self.add(
                f"{where}.{key} = {value!r} is not valid; valid values are {', '.join(options)}"
            )
            return None
        return value

    def integer(self, table, key, where, minimum, default=None, required=True, maximum=None):
        value = table.get(key, default)
        rule = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        if value is None:
            if required:
                self.add(f"{where}.{key} is missing; it must be a whole number {rule}")
            return None
        if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
            self.add(f"{where}.{key} = {value!r} must be a whole number {rule}")
            return None
        return value

    def name(self, name: str, where: str) -> bool:
        """Check an outcome or column name is a plain identifier; False (and a problem) if not."""
        why = limits.check_name(name)
        if why is not None:
            self.add(f"{where}: the name {name[:80]!r} {why}")
        return why is None

    def number(self, table, key, where, default=None, required=True):
        value = table.get(key, default)
        if value is None:
            if required:
                self.add(f"{where}.{key} is missing; it must be a number")
            return None
        if not is_number(value):
            self.add(f"{where}.{key} = {value!r} must be a finite number")
            return None
        return float(value)
