"""Planning before the first dose: simulated trials, their replay, power and design comparison.

Modules: :mod:`~nof1.planning.simulate` (simulated diaries), :mod:`~nof1.planning.replay` (the
pre-specified analysis and stop rules on each simulated trial), :mod:`~nof1.planning.operating`
(power, type I error, stop-rule burden) and :mod:`~nof1.planning.design` (designs compared). This
layer imports the layers below it (stats, trial, diary, safety, analysis), never report or web.
"""

__all__: list[str] = []
