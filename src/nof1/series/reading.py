"""How a series was read: column-wise, per patient, and why.

A long-form series (template, patients table, one long diary) is read column-wise; a patient
goes to the per-patient reader only for a problem that reader must name (a cell that does not
parse, an undeclared category, a date twice, ...), and a whole series only when the column-wise
reader does not apply (the ``[[trials]]`` form, a diary option it does not implement). This
module owns the account of it that ``nof1 series`` and ``nof1 monitor`` give with ``--verbose``
and in their JSON (``reading``): how many patients each path read, the reasons counted, and
why a whole series was read per patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Flags", "Reading"]

# why a patient goes to the per-patient reader (counted in the reading account)
BAD_TABLE_ROW = "a row of the patients table the reader refuses (its start, seed or sequence)"
BAD_DATE = "a date that does not parse"
BAD_NUMBER = "a number that does not parse"
BAD_CATEGORY = "an entry that is not a declared category"
DATE_TWICE = "a date twice"
OFF_SCALE = "a value off its outcome's scale"
NO_ROW_INSIDE = "no diary row within the schedule"

TRIALS_FORM = "the [[trials]] form (one protocol and one diary per patient)"
"""Why a series of the ``[[trials]]`` form is read per patient: it has no long diary."""

REPORT_READS_ALL = "the series report needs every patient's trial (--report)"
"""Why ``nof1 series --report`` reads every patient one by one."""


@dataclass(frozen=True)
class Reading:
    """How the patients of a series were read.

    Attributes
    ----------
    column_wise
        Patients read column-wise.
    per_patient
        Patients read by the per-patient reader.
    reasons
        Why, counted in patients (a patient may count under several reasons).
    fallback
        Why the whole series was read per patient, else None.
    rows_outside
        Diary rows dated outside their patient's schedule, read column-wise: the analysis
        leaves them out (as for one trial), the stop rules see them.
    """

    column_wise: int
    per_patient: int
    reasons: Mapping[str, int] = field(default_factory=dict)
    fallback: str | None = None
    rows_outside: int = 0

    @classmethod
    def whole(cls, patients: int, why: str) -> Reading:
        """Every patient read per patient, for ``why``."""
        return cls(0, patients, {}, why)

    @property
    def long_form_fallback(self) -> bool:
        """A long-form series read per patient as a whole: slow, and worth saying."""
        return self.fallback not in (None, TRIALS_FORM, REPORT_READS_ALL)

    def to_dict(self) -> dict[str, Any]:
        """JSON: ``column_wise``, ``per_patient``, ``reasons``, ``fallback``, ``rows_outside``."""
        return {
            "column_wise": self.column_wise,
            "per_patient": self.per_patient,
            "reasons": dict(self.reasons),
            "fallback": self.fallback,
            "rows_outside": self.rows_outside,
        }

    def describe(self) -> list[str]:
        """The account in lines of text (``--verbose``)."""
        if self.fallback is not None:
            return [f"read per patient ({self.per_patient} patients): {self.fallback}"]
        lines = [f"read column-wise: {self.column_wise} patients; per patient: {self.per_patient}"]
        lines += [f"  per patient, {reason}: {n}" for reason, n in self.reasons.items()]
        if self.rows_outside:
            lines.append(
                f"  {self.rows_outside} diary rows dated outside their patient's schedule "
                "(not analysed; the stop rules see them)"
            )
        return lines


class Flags:
    """Per patient, the reasons the column-wise checks send it to the per-patient reader."""

    def __init__(self, n: int) -> None:
        self.any = np.zeros(n, dtype=bool)
        self._why: dict[str, np.ndarray] = {}

    def patients(self, reason: str, mask: np.ndarray) -> None:
        """Flag the patients where ``mask`` (one entry per patient) for ``reason``."""
        if not mask.any():
            return
        self.any |= mask
        self._why[reason] = self._why.get(reason, np.zeros(self.any.size, dtype=bool)) | mask

    def rows(self, reason: str, code: np.ndarray, rows: np.ndarray) -> None:
        """Flag the patients of the rows where ``rows`` (``code``: each row's patient)."""
        if rows.any():
            self.patients(reason, np.bincount(code[rows], minlength=self.any.size) > 0)

    def merge(self, other: Flags) -> None:
        """Add the flags of ``other`` (the same patients: another part of the diary)."""
        for reason, mask in other._why.items():
            self.patients(reason, mask)

    def reading(self, rows_outside: int = 0) -> Reading:
        """The account: the patients flagged per patient, the others column-wise."""
        reasons = {r: int(m.sum()) for r, m in self._why.items()}
        return Reading(int((~self.any).sum()), int(self.any.sum()), reasons, None, rows_outside)
