"""The empty diary: one row per scheduled day for the patient to fill in, and its guide columns.

With ``blinding`` single or double the template shows no arm, so it cannot unblind the patient.
The template's guide columns (``day`` and ``arm``) are not read as data, but a diary that still
carries them is checked against the protocol's schedule (:func:`guide_conflict`): a diary made
from another schedule (a seed, scheme or start date changed or mistyped in the protocol since) is
refused rather than analysed against the wrong arms.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..csv_safe import write_rows
from ..errors import DiaryError

if TYPE_CHECKING:
    from ..trial.protocol import Protocol
    from ..trial.schedule import Schedule

__all__ = ["GUIDE_COLUMNS", "guide_conflict", "write_template"]

GUIDE_COLUMNS = ("day", "arm")
"""Columns the template adds to guide the patient; the diary reader knows and ignores them."""


def write_template(protocol: Protocol, path: str | Path) -> tuple[int, bool]:
    """Write an empty diary CSV for the protocol.

    Parameters
    ----------
    protocol
        The validated protocol.
    path
        Where to write the CSV (UTF-8, comma-delimited).

    Returns
    -------
    rows, blinded
        The number of day rows written, and whether the arm was withheld (blinded trial).
    """
    schedule = protocol.schedule()
    blinded = protocol.trial.blinding != "open"
    arrays = schedule.day_arrays()
    guide = ["day"] if blinded else list(GUIDE_COLUMNS)
    header = ["date", *protocol.columns, *guide]
    rows = [header]
    for i, date in enumerate(schedule.dates()):
        blanks = [""] * len(protocol.columns)
        extra = [int(arrays["day"][i])]
        if not blinded:
            extra.append(arrays["arm"][i])
        rows.append([date.isoformat(), *blanks, *extra])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_rows(handle, rows)  # cells a spreadsheet would run as formulas are neutralised
    return schedule.n_days, blinded


_ARMS = ("run-in", "treatment", "control")


def _template_cell(name: str, cell: str) -> str | None:
    """A guide cell as the template writes it: a day number (``8``, or ``8.0`` from a
    spreadsheet) or an arm (any case), else None (not the template's: not compared)."""
    if name == "arm":
        return cell.casefold() if cell.casefold() in _ARMS else None
    try:
        day = float(cell)
    except ValueError:
        return None
    return str(int(day)) if day.is_integer() else None


def guide_conflict(
    rows: list[dict[str, Any]], header: list[str], schedule: Schedule, path: str
) -> DiaryError | None:
    """The error for the first day (by date) whose template guide cell contradicts the schedule.

    Parameters
    ----------
    rows
        The diary rows as parsed: ``line``, ``date`` and each header cell as written.
    header
        The diary's header; only its guide columns (``day``, ``arm``) are checked.
    schedule
        The protocol's schedule.
    path
        The file, as the error names it.

    Returns
    -------
    DiaryError or None
        Naming the line and column of the earliest scheduled day whose ``day`` or ``arm`` cell
        differs from the schedule's day number or arm (``run-in``, ``treatment``,
        ``control``), and how many days disagree; None when every such cell agrees. Only cells
        as the template writes them are compared (a whole number in ``day``; ``run-in``,
        ``treatment`` or ``control``, any case, in ``arm``): a blank cell, another word and a
        row dated outside the schedule are not the template's.
    """
    guides = [name for name in GUIDE_COLUMNS if name in header]
    if not guides or not rows:
        return None
    arrays = schedule.day_arrays()
    index = {d: i for i, d in enumerate(schedule.dates())}
    found: list[tuple[_dt.date, int, str, str, str]] = []
    for row in rows:
        i = index.get(row["date"])
        if i is None:
            continue
        for name in guides:
            cell = str(row[name] or "").strip()
            written = _template_cell(name, cell)
            scheduled = str(int(arrays["day"][i])) if name == "day" else str(arrays["arm"][i])
            if written is not None and written != scheduled:
                found.append((row["date"], row["line"], name, cell, scheduled))
                break
    if not found:
        return None
    day, line, name, cell, scheduled = min(found)
    days = len({f[0] for f in found})
    more = f" (and on {days - 1} more day{'s' if days > 2 else ''})" if days > 1 else ""
    return DiaryError(
        f"the template's {name} column says {cell!r} on {day.isoformat()}, but the protocol's "
        f"schedule (allocation fingerprint {schedule.fingerprint}) has {scheduled!r} that "
        f"day{more}: the diary was made from another schedule. Check the protocol's seed, "
        "scheme, sequence and start against the template's, or write a new template with "
        "nof1 template",
        path,
        line,
        name,
    )
