"""What the command modules share: exit codes, the error guard, JSON output, loading a protocol
and a diary, dates given as options, and the options several commands take.

The helpers keep the names they had in the single-module command line, so the commands read as
before.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import Nof1Error

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "EXIT_REVIEW",
    "EXIT_STOP",
    "FILE",
    "check_extension",
    "date_format_option",
    "emit_json",
    "fail",
    "guard",
    "json_option",
    "load",
    "load_protocol",
    "max_bytes_option",
    "parse_date",
    "say_reading",
    "sheet_option",
    "verbose_option",
]

EXIT_OK, EXIT_BAD_INPUT, EXIT_REVIEW, EXIT_STOP = 0, 2, 3, 4


def fail(message: str, error: Exception | None = None) -> None:
    """One line on stderr and exit 2; with ``--json`` also the error as JSON on stdout."""
    click.echo(f"nof1: {message}", err=True)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.params.get("as_json"):
        path = error.filename if isinstance(error, OSError) else getattr(error, "path", None)
        emit_json(
            {
                "error": message,
                "file": None if path is None else str(path),
                "line": getattr(error, "line", None),
                "column": getattr(error, "column", None),
            }
        )
    sys.exit(EXIT_BAD_INPUT)


def guard(command):
    """Turn library errors into one line on stderr and exit 2; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Nof1Error as exc:
            fail(str(exc), exc)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}", exc)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the traceback for developers
            if os.environ.get("NOF1_DEBUG"):
                raise
            click.echo(
                f"nof1: internal error ({type(exc).__name__}: {exc}); this is a bug in nof1, "
                "please report it (set NOF1_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def emit_json(document: Any) -> None:
    """Print ``json.dumps(document, indent=2, allow_nan=False, default=str)`` and a newline.

    The same bytes, written by :mod:`nof1.jsonout` in chunks (the whole document encoded first,
    so an error prints nothing): :func:`json.dumps` with ``indent`` takes seconds for a
    100,000-patient series.
    """
    from .. import jsonout

    jsonout.write(document, lambda chunk: click.echo(chunk, nl=False))
    click.echo("")


def load_protocol(path: str, max_bytes: int | None = None):
    from ..trial.protocol import Protocol

    return Protocol.load(path, max_bytes=max_bytes)


def load(
    protocol_path: str,
    diary_path: str,
    date_format: str | None,
    allow_empty: bool,
    max_bytes: int | None = None,
    sheet: str | None = None,
):
    from ..diary.read import read_diary

    protocol = load_protocol(protocol_path, max_bytes)
    diary = read_diary(
        diary_path, protocol, date_format, allow_empty, max_bytes=max_bytes, sheet=sheet
    )
    return protocol, diary


def parse_date(value: str | None, option: str) -> _dt.date | None:
    from ..limits import date_problem

    if value is None:
        return None
    if value == "today":
        return _dt.date.today()
    try:
        day = _dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD or 'today'")
        return None
    if date_problem(day):
        fail(f"{option} {value} {date_problem(day)}")
    return day


def check_extension(path: str | None, option: str, allowed: tuple[str, ...]) -> None:
    """Refuse an output file whose extension names a format nof1 does not write."""
    if path is not None and Path(path).suffix.lower() not in allowed:
        fail(
            f"{option} {path}: the file name must end in {' or '.join(allowed)} (the format "
            "is taken from it)"
        )


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
verbose_option = click.option(
    "--verbose",
    is_flag=True,
    help="For a series: say on stderr how many patients were read column-wise and how many one "
    "by one, and why.",
)


def say_reading(reading: Any, verbose: bool) -> None:
    """How a series was read, on stderr: every line with ``--verbose``; without it, only a
    long-form series read one patient at a time as a whole (slow), and why."""
    if reading is None:
        return
    if verbose:
        for line in reading.describe():
            click.echo(f"nof1: {line}", err=True)
    elif reading.long_form_fallback:
        click.echo(
            f"nof1: read one patient at a time ({reading.per_patient} patients, slower): "
            f"{reading.fallback}",
            err=True,
        )


date_format_option = click.option(
    "--date-format",
    default=None,
    metavar="FMT",
    help="strptime format of non-ISO diary dates, e.g. %d/%m/%Y.",
)
max_bytes_option = click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Read input files up to N bytes (default 1 MB for a protocol, 50 MB for a diary).",
)
sheet_option = click.option(
    "--sheet", default=None, metavar="NAME", help="Sheet of an .xlsx diary (default: the first)."
)
FILE = click.Path(dir_okay=False)


#: A series whose files add up to more than this shows a progress bar on stderr.
PROGRESS_BYTES = 20_000_000


def _series_size(path: str) -> int:
    """Bytes of a series file's folder (the long diary dominates); 0 when unreadable."""
    try:
        return sum(f.stat().st_size for f in Path(path).resolve().parent.rglob("*") if f.is_file())
    except OSError:
        return 0


def progress_bar(path: str, label: str = "nof1 series"):
    """A progress callback drawing a bar on stderr for a large series, else None."""
    if _series_size(path) <= PROGRESS_BYTES:
        return None
    state = {"last": -1}

    def show(done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == state["last"]:
            return
        state["last"] = percent
        bar = "#" * (percent // 5)
        end = "\n" if done >= total else ""
        click.echo(f"\r{label}: [{bar:<20}] {percent:3d}%", err=True, nl=False)
        if end:
            click.echo("", err=True)

    return show
