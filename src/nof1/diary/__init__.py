"""The diary the patient kept: reading it from CSV, xlsx, parquet or a DataFrame, and its template.

Modules: :mod:`~nof1.diary.model` (the :class:`~nof1.diary.model.Diary` every reader returns),
:mod:`~nof1.diary.read` (the file read in named stages to typed rows, every row used or excluded
with a reason), its stages :mod:`~nof1.diary.records` (bytes to CSV records) and
:mod:`~nof1.diary.cells` (cells typed and checked), :mod:`~nof1.diary.problems` (the problems of
every stage gathered), :mod:`~nof1.diary.align` (rows laid on the schedule),
:mod:`~nof1.diary.sources` (file formats), :mod:`~nof1.diary.daily` (several entries a day to one
day; the arm taken), :mod:`~nof1.diary.template` (an empty diary for the schedule),
:mod:`~nof1.diary.redcap` (imports from other systems) and :mod:`~nof1.diary.redcap_carry`
(values of another REDCap instrument carried onto their dates). This layer imports
:mod:`nof1.trial` and nothing above it.
"""

__all__: list[str] = []
