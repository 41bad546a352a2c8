"""The empty diary: one row per scheduled day for the patient to fill in.

With ``blinding`` single or double the template shows no arm, so it cannot unblind the patient.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..csv_safe import write_rows

if TYPE_CHECKING:
    from ..trial.protocol import Protocol

__all__ = ["GUIDE_COLUMNS", "write_template"]

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
