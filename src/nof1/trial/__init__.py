"""The trial as the clinician wrote it: the protocol, its parsing and checks, and the schedule.

Modules: :mod:`~nof1.trial.protocol` (the settings, read from TOML), :mod:`~nof1.trial.parse` (TOML
to settings, with every problem listed in a :mod:`~nof1.trial.checker`),
:mod:`~nof1.trial.stop_rules`, :mod:`~nof1.trial.categories` and
:mod:`~nof1.trial.diary_options` (parts of the protocol), :mod:`~nof1.trial.schedule` (the
day-by-day plan drawn from the seed) and :mod:`~nof1.trial.allocations` (the allocations a scheme
admits: counted, drawn, enumerated, sampled). This layer imports only :mod:`nof1.errors`,
:mod:`nof1.limits`, :mod:`nof1.csv_safe` and :mod:`nof1.stats`.
"""

__all__: list[str] = []
