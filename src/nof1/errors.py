"""Domain errors of nof1: what went wrong, where, and what would be valid.

The library raises these; the CLI turns them into one line on stderr and exit code 2.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "EARLIER",
    "DiaryError",
    "InsufficientDataWarning",
    "LogError",
    "Nof1Error",
    "PlanningError",
    "ProtocolError",
    "SeriesError",
    "WorkspaceError",
]


class Nof1Error(Exception):
    """Base class of every error nof1 raises on bad input."""


class ProtocolError(Nof1Error):
    """A protocol file that cannot be right.

    Parameters
    ----------
    problems
        One message per problem, each naming the key and what would be valid.
    path
        The protocol file, when there is one.
    line, column
        Where in the file, when the problem has a place (a TOML syntax error); 1-based.
    """

    def __init__(
        self,
        problems: list[str] | str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        self.line = line
        self.column = column
        where = f"{path}: " if path else ""
        if len(self.problems) == 1:
            message = where + self.problems[0]
        else:
            message = where + f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(message)


EARLIER = "{earlier}"
"""Where a :class:`DiaryError` message names its ``earlier`` line (``first on {earlier}``)."""


class DiaryError(Nof1Error):
    """A diary file that cannot be loaded.

    Parameters
    ----------
    message
        What was found and what was expected.
    path, line, column
        Where: the file, the 1-based line (the header is line 1) and the column name.
    sheet, unit
        A spreadsheet's sheet, and what ``line`` counts: ``line`` in a text file, ``row`` in a
        spreadsheet, a Parquet file or a DataFrame.
    earlier
        Another line the message refers to (the first row of a date given twice): the message
        names it where it holds :data:`EARLIER`, counted as ``line`` is (``line 2``, ``row 1``).

    Attributes
    ----------
    problems
        The problems found, in line order, this one first: up to ``max_problems`` of
        ``read_diary(..., max_problems=50)``; else just this one.
    more
        How many more problems were found than ``problems`` lists (0 when it lists them all).
    template
        The message as given, :data:`EARLIER` not yet replaced (to name the error elsewhere).
    """

    problems: tuple[DiaryError, ...]
    more: int

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
        *,
        sheet: str | None = None,
        unit: str = "line",
        earlier: int | None = None,
    ) -> None:
        self.template = message
        self.earlier = earlier
        if earlier is not None:
            message = message.replace(EARLIER, f"{unit} {earlier}")
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.sheet = sheet
        self.unit = unit
        where = []
        if path is not None:
            where.append(str(path))
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if line is not None:
            where.append(f"{unit} {line}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        self.problems = (self,)
        self.more = 0
        super().__init__(f"{prefix}: {message}" if prefix else message)

    def remapped(self, change: Callable[[DiaryError], DiaryError]) -> DiaryError:
        """This error and every problem it carries, each passed through ``change`` (to name a
        renamed column or a spreadsheet's row instead of a line of text)."""
        first = change(self)
        first.problems = tuple(first if p is self else change(p) for p in self.problems)
        first.more = self.more
        return first


class PlanningError(Nof1Error, ValueError):
    """A simulation setting that cannot be right (an SD <= 0, |rho| >= 1, ...)."""


class LogError(Nof1Error):
    """A monitor log that may not or cannot be written, or read (the message names the file)."""


class SeriesError(Nof1Error):
    """A series file, or one trial of a series, that cannot be used.

    Parameters
    ----------
    message
        What was found and what would be valid; for a trial's own error, that error's message
        (with its file, line and column).
    patient
        The patient whose trial it is, when there is one; the message then starts with it.
    cause
        The error of the trial's own protocol or diary, if that was the problem.
    """

    def __init__(
        self, message: str, patient: str | None = None, cause: Nof1Error | None = None
    ) -> None:
        self.patient = patient
        self.cause = cause
        super().__init__(f"patient {patient}: {message}" if patient else message)


class WorkspaceError(Nof1Error):
    """A clinic workspace (``nof1 serve --workspace``) asked what it cannot do.

    Parameters
    ----------
    message
        What was asked, what was found, and what would do.
    kind
        ``"refused"`` (a folder or a trial id that may not be used, a write the platform cannot
        lock), ``"exists"`` (a trial of that id is there already, with another protocol) or
        ``"unknown"`` (no such trial, no such kept file).
    """

    def __init__(self, message: str, kind: str = "refused") -> None:
        self.kind = kind
        super().__init__(message)


class InsufficientDataWarning(UserWarning):
    """A method could not run, or ran on less data than it should, and says why."""
