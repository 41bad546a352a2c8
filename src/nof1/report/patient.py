"""The patient page: the trial's result in plain words and large type, with no p-values.

This module owns ``render_html(analysis, audience="patient")``: what was compared, how each outcome
changed and how sure we are (chances put as "about 7 in 10"), what the safety checks found, and
what happens next. It prints on one or two pages and shares the escaping and page shell of
:mod:`nof1.report.html` with the clinician report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .html import esc, html_page, replay_safety

if TYPE_CHECKING:
    from ..analysis.analyze import Analysis, OutcomeResult

__all__ = ["render_patient"]

_PATIENT_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #111; font-size: 21px; line-height: 1.55; max-width: 760px; margin: 0 auto;
  padding: 28px; }
h1 { font-size: 1.7em; margin: 0 0 .4em; } h2 { font-size: 1.2em; margin: 1.2em 0 .3em; }
p, li { margin: .35em 0; } .box { border: 2px solid #0072B2; border-radius: 8px; padding: .6em 1em;
  margin: .8em 0; } .next { border-color: #00754F; background: #f3faf6; }
.small { font-size: .8em; color: #444; }
@page { margin: 15mm; }
@media print { body { font-size: 15pt; padding: 0; max-width: none; }
  .box { break-inside: avoid; page-break-inside: avoid; } }
"""


def _in_ten(p: float) -> str:
    k = round(10 * p)
    if k >= 10:
        return "more than 9 in 10"
    if k <= 0:
        return "less than 1 in 10"
    return f"about {k} in 10"


def _long_date(day) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _patient_outcome(analysis: Analysis, r: OutcomeResult) -> str:
    trial = analysis.protocol.trial
    spec = next(o for o in analysis.protocol.outcomes if o.name == r.name)
    name, treat, ctrl = esc(r.name), esc(trial.treatment), esc(trial.control)
    if not math.isfinite(r.effect):
        return (
            f'<div class="box"><h2>Your {name}</h2><p>We could not compare your {name} between '
            "the two: there were not enough diary days in some stretches.</p></div>"
        )
    size = abs(r.effect)
    improved = (r.effect < 0) == (r.better == "lower")
    if size < 0.05:
        shown = f"Your {name} was about the same while taking {treat} and with {ctrl}."
    else:
        word = "lower" if r.effect < 0 else "higher"
        good = "better" if improved else "worse"
        shown = (
            f"On average your {name} was {size:.1f} points {word} (on the {spec.min:g} to "
            f"{spec.max:g} scale) while taking {treat} than with {ctrl}. For {name}, {r.better} "
            f"is better, so this is {good}."
        )
        if r.direction not in ("better", "worse"):
            shown += " The difference is small enough that it could be down to chance."
        points = f"{spec.mcid:g} point{'s' if spec.mcid != 1 else ''}"
        shown += {
            "important": f" The change is at least the {points} you would notice.",
            "not important": f" The change is smaller than the {points} you would notice.",
            "uncertain": f" We cannot tell yet whether the change reaches the {points} you "
            "would notice.",
        }[r.clinical]
    diffs = [d for d in r.cycle_differences if math.isfinite(d)]
    helped = sum(1 for d in diffs if (d < 0) == (r.better == "lower") and d != 0)
    rounds = f" It was better on {treat} in {helped} of the {len(diffs)} rounds." if diffs else ""
    b = r.bayes
    if b.reason is None and math.isfinite(b.p_improvement):
        sure = (
            f"<p>The chance that {treat} really helps your {name}: <strong>"
            f"{_in_ten(b.p_improvement)}</strong>.</p><p>The chance that it helps enough for you "
            f"to notice (at least {spec.mcid:g} point{'s' if spec.mcid != 1 else ''}): <strong>"
            f"{_in_ten(b.p_mcid_improvement)}</strong>.</p>"
        )
        if b.p_mcid_worsening >= 0.1:
            sure += (
                f"<p>The chance that it makes your {name} noticeably worse: <strong>"
                f"{_in_ten(b.p_mcid_worsening)}</strong>.</p>"
            )
    else:
        sure = "<p>We cannot yet say how sure we are: there were not enough complete rounds.</p>"
    return (
        f'<div class="box"><h2>Your {name}</h2><p>{shown}{rounds}</p>'
        f"<p><strong>How sure are we?</strong></p>{sure}</div>"
    )


def render_patient(analysis: Analysis) -> str:
    """The patient page: ``render_html(analysis, audience="patient")``."""
    p = analysis.protocol
    s = analysis.diary.schedule
    treat, ctrl = esc(p.trial.treatment), esc(p.trial.control)
    weeks = round(s.n_days / 7)
    names = " and ".join(esc(o.name) for o in p.outcomes)
    last = analysis.diary.last_date
    early = (
        "<p><strong>The trial is not finished yet. These are early results.</strong></p>"
        if last is not None and last < s.end
        else ""
    )
    result, _ = replay_safety(analysis)
    if result is None:
        safety = "Your clinician will go through the safety checks with you."
    elif result.status == "continue":
        safety = "Your diary did not set off any of the safety checks your clinician chose."
    elif result.status == "review":
        safety = "Some days in your diary were flagged for your clinician to look at with you."
    else:
        safety = (
            "Your diary set off a safety check that means the trial should stop. Please talk "
            "with your clinician soon."
        )
    order = sorted(analysis.outcomes.values(), key=lambda r: not r.primary)
    body = (
        f"<h1>Your trial: {treat} or {ctrl}?</h1>{early}"
        f'<div class="box"><h2>What we compared</h2><p>From {_long_date(s.start)} to '
        f"{_long_date(s.end)} (about {weeks} weeks) you spent some stretches of "
        f"{p.design.period_days} days taking {treat} and others with {ctrl}. The order was "
        f"chosen by chance. Each day you wrote down your {names}. Each round had one stretch of "
        f"each. The first {p.design.washout_days} days of every stretch were left out, because "
        "what you took before may still have had an effect.</p></div>"
        + "".join(_patient_outcome(analysis, r) for r in order)
        + f'<div class="box"><h2>Safety</h2><p>{safety}</p></div>'
        + '<div class="box next"><h2>What happens next</h2><p><strong>Talk with your clinician'
        f"</strong> about these results. Together you can decide whether to keep taking {treat}, "
        "stop, or try something else. Please do not change your treatment before you have "
        "talked.</p><p>These results are about you only. They do not tell how the treatment "
        "works for other people.</p></div>"
        f'<p class="small">Trial {esc(p.trial.id)}, patient {esc(p.trial.patient)}, clinician '
        f"{esc(p.trial.clinician)}.</p>"
    )
    return html_page(f"Your trial {p.trial.id}", _PATIENT_CSS, body)
