"""Checking a protocol (and a diary) without stopping at the first problem: ``nof1 check``.

This module owns what ``nof1 check`` reports: every problem that makes the files unusable, and the
warnings a clinician should read before the first dose (a stop rule that can never fire, a design
whose randomization test cannot reach alpha, diary rows that will be left out). It reads files
(:func:`check_files`) or their content (:func:`check_texts`, for uploads), so the command line and
the web page give the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Nof1Error

if TYPE_CHECKING:
    from .diary import Diary
    from .protocol import Protocol

__all__ = ["CheckReport", "check_files", "check_texts"]


@dataclass(frozen=True)
class CheckReport:
    """What ``nof1 check`` found.

    Attributes
    ----------
    problems
        Messages that make the files unusable, each naming the file (and line, column or key).
    warnings
        Messages worth reading that do not stop the trial.
    """

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem was found (warnings allowed)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``nof1 check --json``: ``ok``, ``problems``, ``warnings``."""
        return {"ok": self.ok, "problems": list(self.problems), "warnings": list(self.warnings)}


def check_files(
    protocol_path: str | Path, diary_path: str | Path | None = None, date_format: str | None = None
) -> CheckReport:
    """Check a protocol file and, when given, a diary file against it.

    Parameters
    ----------
    protocol_path, diary_path
        The files; messages name them as given.
    date_format
        A :func:`datetime.datetime.strptime` format for non-ISO diary dates.

    Examples
    --------
    >>> from nof1 import example_paths
    >>> check_files(*example_paths()).ok
    True
    """
    from .diary import read_diary
    from .protocol import Protocol

    diary = None
    if diary_path is not None:
        diary = (str(diary_path), lambda p: read_diary(diary_path, p, date_format))
    return _check(str(protocol_path), lambda: Protocol.load(protocol_path), diary)


def check_texts(
    protocol_data: bytes | str,
    protocol_name: str,
    diary_data: bytes | str | None = None,
    diary_name: str = "<diary>",
    date_format: str | None = None,
) -> CheckReport:
    """Like :func:`check_files`, from the files' content; the names are used in messages only."""
    from .diary import read_diary_text
    from .protocol import Protocol

    diary = None
    if diary_data is not None:
        diary = (diary_name, lambda p: read_diary_text(diary_data, p, diary_name, date_format))
    return _check(protocol_name, lambda: Protocol.loads(protocol_data, protocol_name), diary)


def _check(
    protocol: str,
    load_protocol: Callable[[], Protocol],
    diary: tuple[str, Callable[[Protocol], Diary]] | None,
) -> CheckReport:
    problems: list[str] = []
    warnings: list[str] = []
    loaded = None
    try:
        loaded = load_protocol()
    except Nof1Error as exc:
        problems.extend(f"{protocol}: {p}" for p in getattr(exc, "problems", [str(exc)]))
    if loaded is not None:
        from .safety import check_rules

        warnings.extend(f"{protocol}: {w}" for w in check_rules(loaded))
        schedule = loaded.schedule()
        if schedule.n_allocations > 1:
            min_p = 1 / schedule.n_allocations
            if min_p > loaded.analysis.alpha:
                warnings.append(
                    f"{protocol}: with {schedule.n_allocations} admissible allocations no "
                    f"randomization test can reach p < {loaded.analysis.alpha:g} (smallest "
                    f"one-sided p {min_p:.4g}); add cycles"
                )
        else:
            warnings.append(f"{protocol}: the 'alternating' scheme allows no randomization test")
    if loaded is not None and diary is not None:
        diary_name, read = diary
        try:
            d = read(loaded)
            warnings.extend(f"{diary_name}: {n}" for n in d.notes)
            warnings.extend(f"{diary_name}: line {e['line']}: {e['reason']}" for e in d.excluded)
        except Nof1Error as exc:
            problems.append(str(exc))
    return CheckReport(tuple(problems), tuple(warnings))
