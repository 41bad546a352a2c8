"""Domain errors of nof1: what went wrong, where, and what would be valid.

The library raises these; the CLI turns them into one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "DiaryError",
    "InsufficientDataWarning",
    "Nof1Error",
    "PlanningError",
    "ProtocolError",
    "SeriesError",
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
    """

    def __init__(self, problems: list[str] | str, path: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        if len(self.problems) == 1:
            message = where + self.problems[0]
        else:
            message = where + f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(message)


class DiaryError(Nof1Error):
    """A diary file that cannot be loaded.

    Parameters
    ----------
    message
        What was found and what was expected.
    path, line, column
        Where: the file, the 1-based line (the header is line 1) and the column name.
    """

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class PlanningError(Nof1Error, ValueError):
    """A simulation setting that cannot be right (an SD <= 0, |rho| >= 1, ...)."""


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


class InsufficientDataWarning(UserWarning):
    """A method could not run, or ran on less data than it should, and says why."""
