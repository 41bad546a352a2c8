"""One patient's trial in a series (:class:`SeriesTrial`) and what every trial must share.

A :class:`SeriesTrial` is what both forms of a series file (:mod:`nof1.series.load`,
:mod:`nof1.series.table`) and a series from DataFrames (:mod:`nof1.series.frames`) give per
patient; :func:`mismatches` lists the trials whose arms or outcomes differ from the first
readable trial's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diary.read import Diary
from ..errors import SeriesError
from ..trial.protocol import Protocol

__all__ = ["SeriesTrial", "mismatches"]


@dataclass(frozen=True)
class SeriesTrial:
    """One patient's trial in a series.

    Attributes
    ----------
    patient
        The patient's pseudonym (``[trial] patient`` of the protocol, or the patients table).
    protocol, diary
        The validated protocol and the diary laid on its schedule; None when they could not be
        read.
    error
        Why the trial could not be read (a :class:`~nof1.errors.SeriesError` naming the
        patient), else None.
    """

    patient: str
    protocol: Protocol | None = None
    diary: Diary | None = None
    error: SeriesError | None = None

    @property
    def ok(self) -> bool:
        """True when both files were read and checked."""
        return self.error is None


def _signature(protocol: Protocol) -> dict[str, Any]:
    """What every trial of a series must share: the arms and the outcomes."""
    return {
        "treatment": protocol.trial.treatment,
        "control": protocol.trial.control,
        "outcomes": [
            (o.name, o.min, o.max, o.better, o.mcid, o.primary) for o in protocol.outcomes
        ],
    }


def mismatches(trials: list[SeriesTrial]) -> tuple[tuple[str, str], ...]:
    readable = [t for t in trials if t.ok]
    if not readable:
        return ()
    first = readable[0]
    ref = _signature(first.protocol)
    out = []
    for t in readable[1:]:
        sig = _signature(t.protocol)
        for key in ("treatment", "control", "outcomes"):
            if sig[key] != ref[key]:
                what = (
                    "outcomes (name, min, max, better, mcid, primary)" if key == "outcomes" else key
                )
                out.append(
                    (
                        t.patient,
                        f"the {what} differ from patient {first.patient}'s: {sig[key]!r} "
                        f"instead of {ref[key]!r}; a series compares the same arms on the same "
                        "outcomes",
                    )
                )
                break
    return tuple(out)
