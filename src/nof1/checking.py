"""Validation of a protocol and its diary in one pass: what ``nof1 check`` and the web page report.

This module owns the list of problems (the files cannot be used) and warnings (they can, but
something deserves a look) of :func:`check_files`: every protocol problem at once, every diary
problem (the first :data:`MAX_DIARY_PROBLEMS` listed, the others counted), the stop rules that
can never fire, a design whose randomization test cannot reach alpha, a protocol without stop
rules. It reads files (:func:`check_files`) or their content (:func:`check_texts`, for uploads),
so the command line and the web page give the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DiaryError, ProtocolError

if TYPE_CHECKING:
    from .diary.read import Diary
    from .trial.protocol import Protocol

__all__ = [
    "MAX_DIARY_PROBLEMS",
    "CheckReport",
    "check_files",
    "check_texts",
    "protocol_warnings",
]

MAX_DIARY_PROBLEMS = 50
"""The diary problems listed (the first in line order); the others are counted."""


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_files` found.

    Attributes
    ----------
    problems
        One line per problem, each naming the file and the line and column or the key; the files
        cannot be used until they are fixed.
    warnings
        One line per warning: the files can be used, but something deserves a look.
    """

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there is no problem (warnings allowed)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``nof1 check --json``: ``ok``, ``problems``, ``warnings``."""
        return {"ok": self.ok, "problems": list(self.problems), "warnings": list(self.warnings)}


def protocol_warnings(protocol: Protocol) -> list[str]:
    """Warnings about a valid protocol: rules that can never fire, no stop rules, a design whose
    randomization test cannot reach alpha."""
    from .safety.monitor import check_rules

    warnings = list(check_rules(protocol))
    if not protocol.stop_rules:
        warnings.append(
            "the protocol has no stop rules: nof1 monitor has nothing to check; add "
            "[[stop_rules]] for the harms the clinician watches for"
        )
    from .trial.reference import design_min_p, reaches_alpha

    n = protocol.schedule().n_allocations
    alpha = protocol.analysis.alpha
    min_p, _ = design_min_p(n)
    if n == 1:
        warnings.append("the 'alternating' scheme allows no randomization test")
    elif not reaches_alpha(min_p, alpha):
        warnings.append(
            f"with {n} admissible allocations no randomization test can reach p <= {alpha:g} "
            f"(smallest two-sided p {min_p:.4g}); add cycles"
        )
    return warnings


def check_files(
    protocol_path: str | Path,
    diary_path: str | Path | None = None,
    date_format: str | None = None,
    max_bytes: int | None = None,
    sheet: str | None = None,
) -> CheckReport:
    """Validate a protocol file (and a diary) and list every problem found.

    Parameters
    ----------
    protocol_path
        The protocol TOML.
    diary_path
        A diary CSV to check against the protocol (optional).
    date_format
        strptime format of non-ISO diary dates, as in :func:`nof1.diary.read.read_diary`.
    max_bytes
        Size limit of each file (default: 1 MB for the protocol, 50 MB for the diary).
    sheet
        The sheet of an ``.xlsx`` diary (default: the first).

    Returns
    -------
    CheckReport
        ``problems`` (each prefixed with its file) and ``warnings``; ``ok`` when no problem.
        Errors are reported, never raised: the caller decides the exit code.

    Examples
    --------
    >>> from nof1 import example_paths
    >>> from nof1.checking import check_files
    >>> check_files(*example_paths()).ok
    True
    """
    from .diary.read import read_diary
    from .trial.protocol import Protocol

    def read(protocol: Protocol) -> Diary:
        return read_diary(
            diary_path, protocol, date_format, max_bytes=max_bytes,
            max_problems=MAX_DIARY_PROBLEMS, sheet=sheet,
        )  # fmt: skip

    return _check(
        str(protocol_path),
        lambda: Protocol.load(protocol_path, max_bytes=max_bytes),
        None if diary_path is None else (str(diary_path), read),
    )


def check_texts(
    protocol_data: bytes | str,
    protocol_name: str,
    diary_data: bytes | str | None = None,
    diary_name: str = "<diary>",
    date_format: str | None = None,
) -> CheckReport:
    """Like :func:`check_files`, from the files' content (an upload); the names are used in
    messages only, never opened."""
    from .diary.read import read_diary_text
    from .trial.protocol import Protocol

    def read(protocol: Protocol) -> Diary:
        return read_diary_text(
            diary_data, protocol, diary_name, date_format, max_problems=MAX_DIARY_PROBLEMS
        )

    return _check(
        protocol_name,
        lambda: Protocol.loads(protocol_data, protocol_name),
        None if diary_data is None else (diary_name, read),
    )


def _check(
    protocol_name: str,
    load_protocol: Callable[[], Protocol],
    diary: tuple[str, Callable[[Protocol], Diary]] | None,
) -> CheckReport:
    """Every problem and warning of a protocol and, when given, its diary (name, reader)."""
    problems: list[str] = []
    warnings: list[str] = []
    try:
        protocol = load_protocol()
    except ProtocolError as exc:
        return CheckReport(tuple(f"{protocol_name}: {p}" for p in exc.problems))
    warnings += [f"{protocol_name}: {w}" for w in protocol_warnings(protocol)]
    if diary is not None:
        diary_name, read = diary
        try:
            loaded = read(protocol)
        except DiaryError as exc:
            problems += [str(e) for e in exc.problems]
            if exc.more:
                problems.append(
                    f"{diary_name}: stopped after {len(exc.problems)} problems (and {exc.more} "
                    "more); fix these and check again"
                )
        else:
            from .safety.monitor import unchecked_rule_columns

            # A stop rule on a column the diary lacks could not be checked: a problem, never a pass.
            problems += [str(e) for e in unchecked_rule_columns(protocol, loaded)]
            warnings += [f"{diary_name}: {n}" for n in loaded.notes]
            warnings += [f"{diary_name}: line {e['line']}: {e['reason']}" for e in loaded.excluded]
    return CheckReport(tuple(problems), tuple(warnings))
