"""Safety: the clinician's stop rules replayed over the diary, the audit log, and their words.

Modules: :mod:`~nof1.safety.rules` (vectorized rule conditions), :mod:`~nof1.safety.monitor` (the
entry point ``monitor``), :mod:`~nof1.safety.result` (what it found), :mod:`~nof1.safety.log`
(the hash-chained monitor log; :mod:`~nof1.safety.log_records`, what its records hold;
:mod:`~nof1.safety.log_check`, what a verification found),
:mod:`~nof1.safety.decisions` and :mod:`~nof1.safety.decide` (the clinicians' decisions: their
data, and recording and reading them), :mod:`~nof1.safety.supervise` (a monitor run on the record
in one call, and the latest run checked again), :mod:`~nof1.safety.workspace`,
:mod:`~nof1.safety.trial_folder` and :mod:`~nof1.safety.kept` (the clinic workspace's folders,
and the diaries kept in them with the date each was checked up to) and
:mod:`~nof1.safety.render` (the result in words).
This layer imports :mod:`nof1.stats`, :mod:`nof1.trial` and :mod:`nof1.diary`, nothing above them.
"""

__all__: list[str] = []
