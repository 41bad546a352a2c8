"""The analysis at the end of a trial: period means, every method per outcome, the verdict in words.

Modules: :mod:`~nof1.analysis.periods`, :mod:`~nof1.analysis.sensitivity`,
:mod:`~nof1.analysis.adherence`, :mod:`~nof1.analysis.outcome` (one outcome's methods and
result), :mod:`~nof1.analysis.analyze` (the entry point ``analyze``),
:mod:`~nof1.analysis.verdict` (the decision rule and its words) and
:mod:`~nof1.analysis.summary` (the text summary ``nof1 analyze`` prints). This layer imports
:mod:`nof1.stats`, :mod:`nof1.trial`, :mod:`nof1.diary` and :mod:`nof1.safety`, nothing above them.
"""

__all__: list[str] = []
