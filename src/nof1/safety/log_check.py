"""What :func:`nof1.safety.log.verify_log` found in a monitor log: its status, every problem
with its line, and the anchor to keep.

This module owns the result of a verification (:class:`LogCheck`, :class:`LogProblem`,
:class:`LogRepair`) and the
words of the problems a hash chain and a kept anchor can have (:func:`chain_problem`,
:func:`anchor_problems`); reading and checking the lines lives in :mod:`nof1.safety.log`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LogCheck", "LogProblem", "LogRepair", "anchor_problems", "chain_problem"]


@dataclass(frozen=True)
class LogProblem:
    """One thing :func:`nof1.safety.log.verify_log` found wrong.

    Attributes
    ----------
    line
        The line it concerns (1-based), or None when it concerns no one line (a kept anchor's
        SHA-256 that no line has).
    problem
        What is wrong, in words.
    """

    line: int | None
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "problem": self.problem}


@dataclass(frozen=True)
class LogRepair:
    """A partial line cut off before a record (``repaired_tail``): a notice, not a problem.

    A write that did not finish, or a last line whose newline was lost, leaves a partial line;
    the next record cuts it off and keeps its size, SHA-256 and text, so nothing is lost and a
    ``stop`` decision on it is still read.

    Attributes
    ----------
    line
        The record that cut it off (1-based).
    removed_bytes
        The size of the partial line.
    """

    line: int
    removed_bytes: Any

    @property
    def notice(self) -> str:
        """In words, as ``nof1 verify-log`` prints it."""
        return (
            f"line {self.line} cut off a partial line of {self.removed_bytes} bytes written "
            "before it"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "removed_bytes": self.removed_bytes, "notice": self.notice}


@dataclass(frozen=True)
class LogCheck:
    """What :func:`nof1.safety.log.verify_log` found.

    Attributes
    ----------
    status
        ``"intact"``: at least one record, every line whole, unchanged and chained to the one
        before it, and the kept anchor (if given) still in place. ``"empty"``: the file has no
        record, and no anchor says it should (an emptied log cannot be told from a new one
        without an anchor). ``"broken"``: at least one problem.
    records
        Complete lines read.
    problems
        Every problem found, in line order (a problem with the anchor last).
    last_sha256
        When intact, the SHA-256 of the last line: keep it with ``records`` elsewhere (the
        clinical record), and a later check with them as the anchor finds lines removed from the
        end, or a log emptied.
    anchor_line
        When a kept anchor was given and is in place: the line it pins (the line with its
        SHA-256, or line ``expect_records``).
    runs, decisions
        Of the records whose content matches their ``sha256``: the monitor runs, and the
        clinicians' decisions.
    repaired
        Of those records, each that cut off a partial line written before it (a notice: the log
        is not broken by it).
    """

    status: str
    records: int
    problems: tuple[LogProblem, ...] = ()
    last_sha256: str | None = None
    anchor_line: int | None = None
    runs: int = 0
    decisions: int = 0
    repaired: tuple[LogRepair, ...] = ()

    @property
    def intact(self) -> bool:
        """True only when the status is ``"intact"``."""
        return self.status == "intact"

    @property
    def line(self) -> int | None:
        """The line of the first problem, or None."""
        return self.problems[0].line if self.problems else None

    @property
    def problem(self) -> str | None:
        """The first problem in words, or None."""
        return self.problems[0].problem if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "intact": self.intact,
            "records": self.records,
            "runs": self.runs,
            "decisions": self.decisions,
            "problems": [p.to_dict() for p in self.problems],
            "line": self.line,
            "problem": self.problem,
            "last_sha256": self.last_sha256,
            "anchor_line": self.anchor_line,
            "repaired": [r.to_dict() for r in self.repaired],
        }


def chain_problem(i: int, claimed: Any) -> str:
    if i == 1:
        return "the lines before it were removed (it has a prev_sha256)"
    if claimed is None:
        return "it claims to start a log: lines before it were added or reordered"
    return (
        f"it does not follow line {i - 1}: a line between them was removed, or the lines were "
        "reordered"
    )


def anchor_problems(
    records: int, at_count: str | None, found: int | None, sha: str | None, count: int | None
) -> list[LogProblem]:
    """Whether the line a previous verification ended on is still there, unchanged."""
    if count is not None and records < count:
        return [
            LogProblem(
                count,
                f"missing: the kept anchor says the log had {count} records, and only {records} "
                "are left (lines were removed from the end, or the log was emptied)",
            )
        ]
    if sha is None:
        return []
    if count is not None and at_count != sha:
        return [
            LogProblem(
                count,
                f"its SHA-256 is not the kept anchor's {sha}: this line was changed, or lines "
                "before it were removed or added",
            )
        ]
    if count is None and found is None:
        return [
            LogProblem(
                None,
                f"no line has the kept anchor's SHA-256 {sha}: the line it pins was changed or "
                "removed, or the log was emptied",
            )
        ]
    return []
