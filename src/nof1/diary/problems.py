"""The problems of a diary, gathered through every stage of reading it, then raised together.

This module owns :class:`Problems`, the collector each stage of :mod:`nof1.diary.read` adds to so
that one reading finds every problem, and how they are raised: the first in line order, carrying
the first few and the count of the others.
"""

from __future__ import annotations

from ..errors import DiaryError

__all__ = ["Problems"]


class Problems:
    """Problems of a diary, gathered through every stage, then raised together.

    Every stage that may go on past a bad row or cell takes one, so that one reading finds every
    problem. :meth:`raise_found` raises the first in line order carrying the first ``limit``
    (``problems``) and the count of the others (``more``); with a limit of 1 the message also
    says how many more there are. A stage called without one raises its own problems at its end.
    """

    def __init__(self, limit: int = 1) -> None:
        self.limit = max(1, limit)
        self.found: list[DiaryError] = []  # the earliest lines only, once there are many
        self.count = 0

    def add(self, error: DiaryError) -> None:
        """Note a problem (only the ``limit`` earliest are kept; all are counted)."""
        self.count += 1
        self.found.append(error)
        if len(self.found) >= 2 * self.limit + 100:
            self.found = self._in_line_order()[: self.limit]

    def _in_line_order(self) -> list[DiaryError]:
        return sorted(self.found, key=lambda e: e.line or 0)

    def raise_found(self) -> None:
        """Raise the first problem in line order, carrying the first ``limit``; nothing when
        none."""
        if not self.found:
            return
        listed = self._in_line_order()[: self.limit]
        more = self.count - len(listed)
        first = listed[0]
        if more and self.limit == 1:
            s = "s" if more > 1 else ""
            first = DiaryError(
                f"{first.template} (and {more} more problem{s}: nof1 check lists them all)",
                first.path,
                first.line,
                first.column,
                sheet=first.sheet,
                unit=first.unit,
                earlier=first.earlier,
            )
        first.problems = (first, *listed[1:])
        first.more = more
        raise first
