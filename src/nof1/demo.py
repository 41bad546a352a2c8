"""``nof1 demo``: the whole pipeline on the packaged example trial.

Each step that exists runs and writes its files; the lines returned say what was done and where.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]


def _dumps(document: Any) -> str:
    """``json.dumps(document, indent=2)``, the same bytes, fast (:mod:`nof1.jsonout`)."""
    from .jsonout import dumps

    return dumps(document, allow_nan=True, default=None)


def run_demo(out: Path) -> list[str]:
    """Run schedule, template, analysis, safety check, reports, power and the example series
    (pooled analysis, report and triage of 12 patients) into ``out``.

    Returns
    -------
    list of str
        One line per step for the terminal.
    """
    from .analysis.analyze import analyze
    from .analysis.summary import render_text
    from .diary.read import read_diary
    from .diary.template import write_template
    from .example import example_paths
    from .planning.operating import power
    from .report.clinician import render_html
    from .safety.monitor import monitor
    from .trial.protocol import Protocol

    out.mkdir(parents=True, exist_ok=True)
    protocol_src, diary_src = example_paths()
    protocol_path, diary_path = out / "protocol.toml", out / "diary.csv"
    shutil.copyfile(protocol_src, protocol_path)
    shutil.copyfile(diary_src, diary_path)
    protocol = Protocol.load(protocol_path)
    schedule = protocol.schedule()
    lines = [
        f"nof1 demo: {protocol.trial.id}, {protocol.trial.treatment} vs {protocol.trial.control}",
        f"  protocol       {protocol_path}",
        f"  diary          {diary_path}",
    ]
    schedule_path = out / "schedule.csv"
    schedule_path.write_text(schedule.to_csv(), encoding="utf-8")
    lines.append(
        f"  schedule       {schedule_path} ({schedule.n_days} days, allocation "
        f"{schedule.allocation_text}, fingerprint {schedule.fingerprint})"
    )
    template_path = out / "diary_template.csv"
    write_template(protocol, template_path)
    lines.append(f"  empty diary    {template_path}")

    diary = read_diary(diary_path, protocol)
    result = analyze(protocol, diary)
    (out / "analysis.json").write_text(_dumps(result.to_dict()), encoding="utf-8")
    (out / "analysis.txt").write_text(render_text(result) + "\n", encoding="utf-8")
    lines.append(f"  analysis       {out / 'analysis.txt'} and {out / 'analysis.json'}")

    safety = monitor(protocol, diary)
    (out / "monitor.json").write_text(_dumps(safety.to_dict()), "utf-8")
    lines.append(f"  safety         {out / 'monitor.json'}: status {safety.status.upper()}")
    lines.extend(
        "                 " + line for line in safety.render_text().splitlines()[:6] if line
    )

    for audience, name in (("clinician", "report.html"), ("patient", "patient.html")):
        (out / name).write_text(render_html(result, audience=audience), encoding="utf-8")
    lines.append(f"  reports        {out / 'report.html'} and {out / 'patient.html'}")

    planning = power(protocol, effect=-1.0, sd=1.5, sims=2000, seed=1)
    (out / "power.json").write_text(_dumps(planning.to_dict()), "utf-8")
    lines.append(
        f"  planning       {out / 'power.json'}: a true 1-point pain improvement (day-to-day "
        f"SD 1.5, autocorrelation {planning.settings['rho']:g}) is detected in "
        f"{100 * planning.power:.0f}% of trials"
    )
    lines.extend(_series_step(out))
    lines.append("")
    lines.append(render_text(result))
    return lines


def _series_step(out: Path) -> list[str]:
    """The packaged example series (12 patients): pooled analysis, report and triage."""
    from .example import example_series_path
    from .report.series import render_series_html
    from .series import Series, analyze_series, monitor_series

    folder = out / "series"
    shutil.copytree(example_series_path().parent, folder, dirs_exist_ok=True)
    series = Series.load(folder / "series.toml")
    result = analyze_series(series)
    triage = monitor_series(series)
    (folder / "series.json").write_text(_dumps(result.to_dict()), "utf-8")
    (folder / "monitor.json").write_text(_dumps(triage.to_dict()), "utf-8")
    (folder / "report.html").write_text(render_series_html(result, triage), encoding="utf-8")
    pain = result.primary
    two = pain.two_stage
    return [
        f"  series         {folder / 'report.html'}: {result.trials} patients, pooled effect on "
        f"{pain.name} {two.estimate:+.2f} ({100 * two.level:g}% CI {two.ci[0]:+.2f} to "
        f"{two.ci[1]:+.2f}), prediction interval {two.prediction[0]:+.2f} to "
        f"{two.prediction[1]:+.2f}",
        f"  series safety  {folder / 'monitor.json'}: "
        + ", ".join(f"{n} {s}" for s, n in triage.counts.items() if n),
    ]
