"""Commands of one trial, from its protocol to its report: init, check, schedule, template,
analyze, monitor, verify-log and demo.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from .options import (
    EXIT_BAD_INPUT,
    FILE,
    check_extension,
    date_format_option,
    emit_json,
    fail,
    guard,
    json_option,
    load,
    load_protocol,
    max_bytes_option,
    parse_date,
    progress_bar,
    say_reading,
    sheet_option,
    verbose_option,
)

__all__ = ["analyze", "check", "demo", "init", "monitor", "schedule", "template", "verify_log"]


@click.command()
@click.argument("path", type=FILE)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@guard
def init(path: str, force: bool) -> None:
    """Write a commented example protocol to PATH, ready to edit."""
    from ..example import example_protocol_text

    target = Path(path)
    if target.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    target.write_text(example_protocol_text(), encoding="utf-8")
    click.echo(f"wrote {path}: edit it, then run: nof1 check {path}")


@click.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE, required=False)
@date_format_option
@max_bytes_option
@sheet_option
@json_option
@guard
def check(
    protocol: str,
    diary: str | None,
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Validate PROTOCOL (and DIARY) and list every problem found.

    Warnings include a design whose randomization test cannot reach alpha: its smallest two-sided
    p (2 / allocations) is above the protocol's alpha, so add cycles.
    """
    from ..checking import check_files

    report = check_files(protocol, diary, date_format, max_bytes, sheet)
    if as_json:
        emit_json(report.to_dict())
    else:
        for p in report.problems:
            click.echo(f"problem: {p}", err=True)
        for w in report.warnings:
            click.echo(f"warning: {w}")
        if report.ok:
            files = " and ".join(x for x in (protocol, diary) if x)
            click.echo(f"ok: {files} {'are' if diary else 'is'} valid")
    if not report.ok:
        sys.exit(EXIT_BAD_INPUT)


@click.command()
@click.argument("protocol", type=FILE)
@click.option("--out", type=FILE, default=None, help="Write the CSV here instead of stdout.")
@max_bytes_option
@json_option
@guard
def schedule(protocol: str, out: str | None, max_bytes: int | None, as_json: bool) -> None:
    """Print the day-by-day schedule (day, date, phase, cycle, period, arm, washout)."""
    sched = load_protocol(protocol, max_bytes).schedule()
    text = json.dumps(sched.to_dict(), indent=2) if as_json else sched.to_csv()
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(
            f"wrote {out}: {sched.n_days} days, allocation fingerprint {sched.fingerprint}",
            err=as_json,
        )
    else:
        click.echo(text.rstrip("\n"))


@click.command()
@click.argument("protocol", type=FILE)
@click.option("--out", type=FILE, required=True, help="The diary CSV to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@max_bytes_option
@guard
def template(protocol: str, out: str, force: bool, max_bytes: int | None) -> None:
    """Write an empty diary CSV with one row per scheduled day."""
    from ..diary.template import write_template

    if Path(out).exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    loaded = load_protocol(protocol, max_bytes)
    n, blind = write_template(loaded, out)
    note = " (blinded: the arm is not shown)" if blind else ""
    click.echo(f"wrote {out}: {n} days to fill in{note}")


@click.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE)
@click.option(
    "--report", type=FILE, default=None, help="Also write an HTML report here (.html or .htm)."
)
@click.option(
    "--audience",
    type=click.Choice(["clinician", "patient"]),
    default="clinician",
    help="Report for the clinician (default) or a one-page patient summary.",
)
@click.option(
    "--log",
    type=click.Path(),  # a folder is refused by the library in one line, and the analysis goes on
    default=None,
    metavar="LOG",
    help="The trial's monitor log (nof1 monitor --log): its decisions and amendments are shown "
    "and honoured. Read only: nothing is appended.",
)
@date_format_option
@max_bytes_option
@sheet_option
@json_option
@guard
def analyze(
    protocol: str,
    diary: str,
    report: str | None,
    audience: str,
    log: str | None,
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Estimate the effect of the treatment on every outcome.

    Per outcome: a t-test, a rank test and a randomization test on the period means (paired by
    cycle where the scheme pairs them), an AR(1) model of the daily values, a Bayesian model, NAP,
    and a verdict in words.

    With --log, the clinicians' decisions in the trial's monitor log (nof1 decide) are honoured
    as nof1 monitor --log honours them (an episode decided continue no longer counts, a stop
    decision ends the trial), and the report lists every episode with its decision and the
    protocol's amendments. The log is only read. A log that does not verify, or of another trial,
    lends no decisions: every episode counts, and stderr says why.
    """
    from ..analysis.analyze import analyze as run
    from ..analysis.summary import render_text
    from ..report.clinician import render_html
    from ..safety.decide import read_history

    check_extension(report, "--report", (".html", ".htm"))
    loaded, d = load(
        protocol, diary, date_format, allow_empty=False, max_bytes=max_bytes, sheet=sheet
    )
    history = None
    if log:
        history = read_history(log, loaded)  # read only: analyze never appends to the log
        if history.refused:
            click.echo(f"nof1: {history.refused}", err=True)
        elif history.last_as_of is None:
            click.echo(f"nof1: {log}: no monitor run is logged there yet: no decisions", err=True)
    result = run(loaded, d, history=history)
    if report:
        Path(report).write_text(render_html(result, audience=audience), encoding="utf-8")
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(render_text(result))
    if report:
        click.echo(f"wrote {report}", err=True)


@click.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE, required=False)
@click.option(
    "--as-of", default=None, metavar="DATE", help="Check up to this date (YYYY-MM-DD or 'today')."
)
@click.option("--log", type=FILE, default=None, help="Append one JSON line per run to this file.")
@click.option(
    "--log-dir",
    default=None,
    metavar="DIR",
    help="A series: one monitor log a patient, DIR/PATIENT.jsonl (as --log for one trial).",
)
@date_format_option
@max_bytes_option
@sheet_option
@verbose_option
@json_option
@guard
def monitor(
    protocol: str,
    diary: str | None,
    as_of: str | None,
    log: str | None,
    log_dir: str | None,
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Replay the stop rules day by day. Exit 0 continue, 3 review, 4 stop.

    Given a series file (a .toml with a [series] table) instead of PROTOCOL DIARY, replay every
    patient's rules with one as-of date and list those needing attention first; with --log-dir
    DIR, each patient has a monitor log DIR/PATIENT.jsonl (decided with nof1 decide
    DIR/PATIENT.jsonl ...), whose decisions are honoured as --log honours them for one trial.

    With --log, one hash-chained line per run is appended to a log (check it with nof1
    verify-log), and the clinicians' decisions already in it (nof1 decide) are honoured: an
    episode decided continue no longer counts, a stop decision ends the trial; episodes the
    previous logged run did not list read NEW; the text ends with the run's SHA-256 (Logged as run
    SHA), to give nof1 decide --run. A log that does not verify, or of another trial, lends no
    decisions: every episode counts, and stderr says why; a run of another trial is never
    appended to a log. A protocol changed since the
    previous logged run is recorded as an amendment. A log that cannot be written never hides
    the verdict: the verdict is printed, the failure goes to stderr, and the exit code stays 4
    or 3 (else 2).
    """
    from ..safety.monitor import monitor as run
    from ..safety.supervise import monitor_logged

    if diary is None:
        _monitor_series(protocol, as_of, log, log_dir, date_format or sheet, verbose, as_json)
        return
    if log_dir:
        fail("--log-dir is for a series file; for one trial give --log LOG")
    loaded, d = load(
        protocol, diary, date_format, allow_empty=True, max_bytes=max_bytes, sheet=sheet
    )
    day = parse_date(as_of, "--as-of")  # bad input first: its one line is the only one
    log_failure = record = None
    if log:  # the sequence the web page's clinic workspace runs too: one library call
        logged = monitor_logged(
            loaded, d, log, as_of=day, on_refused=lambda why: click.echo(f"nof1: {why}", err=True)
        )
        result, log_failure, record = logged.result, logged.log_failure, logged.record
    else:
        result = run(loaded, d, as_of=day)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
        if record is not None:  # the run a decision on it names (nof1 decide --run)
            sha = record["sha256"][:12]
            click.echo(
                f"Logged as run {sha}: decide with nof1 decide {shlex.quote(log)} ID --run {sha} "
                "--decision ..."
            )
    if log_failure:
        click.echo(f"nof1: the run was NOT logged: {log_failure}", err=True)
        sys.exit(result.exit_code or EXIT_BAD_INPUT)
    sys.exit(result.exit_code)


def _monitor_series(
    path: str,
    as_of: str | None,
    log: str | None,
    log_dir: str | None,
    date_format,
    verbose: bool,
    as_json: bool,
) -> None:
    """``nof1 monitor SERIES.toml``: the series triage; exit with the worst status."""
    from .. import collector
    from ..series import Series, monitor_path

    if log or date_format:
        option = "--log" if log else "--date-format or --sheet"
        hint = "; a series keeps one log a patient with --log-dir DIR" if log else ""
        fail(f"{option} is for one trial; give PROTOCOL DIARY, or leave it out for a series{hint}")
    if not Series.is_series_file(path):
        fail(f"{path}: give PROTOCOL DIARY, or a series file with a [series] table")
    # the long form is triaged column-wise (every patient's rules at once)
    day = parse_date(as_of, "--as-of")
    bar = progress_bar(path, "nof1 monitor")
    result = monitor_path(path, as_of=day, progress=bar, log_dir=log_dir)
    say_reading(result.reading, verbose)
    logs = result.logs
    for patient, why in () if logs is None else logs.refused:
        click.echo(f"nof1: patient {patient}: {why}", err=True)
    if as_json:
        with collector.paused():  # 100,000 patients' dicts, alive until written
            emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    if logs is not None and logs.not_logged:
        for patient, why in logs.not_logged:
            click.echo(f"nof1: patient {patient}: the run was NOT logged: {why}", err=True)
        sys.exit(result.exit_code or EXIT_BAD_INPUT)
    sys.exit(result.exit_code)


@click.command("verify-log")
@click.argument("log", type=FILE)
@click.option(
    "--expect-sha256",
    metavar="SHA",
    default=None,
    help="The last line's SHA-256 an earlier verify-log printed: that line must still be there.",
)
@click.option(
    "--expect-records",
    metavar="N",
    type=int,
    default=None,
    help="The records an earlier verify-log counted: the log must still hold at least N (with "
    "--expect-sha256, line N must be that line).",
)
@json_option
@guard
def verify_log(
    log: str, expect_sha256: str | None, expect_records: int | None, as_json: bool
) -> None:
    """Check the hash chain of a monitor log. Exit 0 intact, 2 naming every bad line.

    Every line must be unchanged and follow the one before it; every decision (nof1 decide) must
    name an episode the run before it listed, as it listed it, say who decided and why, and be
    continue or stop. A record that cut off a partial line written before it is a notice.

    An empty log is reported as empty (exit 2), never as intact: an emptied log cannot be told
    from a new one. Keep the records and the last line's SHA-256 that an intact check prints, and
    give them next time as --expect-records and --expect-sha256, so that lines removed from the
    end, or a log emptied, are found.
    """
    from ..safety.monitor import verify_log as run

    result = run(log, expect_sha256=expect_sha256, expect_records=expect_records)
    kinds = f"{result.runs} run(s), {result.decisions} decision(s)"
    if as_json:
        emit_json(result.to_dict())
    elif result.intact:
        anchor = (
            ""
            if result.anchor_line is None
            else f"; the kept anchor (line {result.anchor_line}) is in place"
        )
        click.echo(
            f"intact: {log}, {result.records} records ({kinds}); last line SHA-256 "
            f"{result.last_sha256}{anchor}\n"
            f"keep as the anchor: --expect-records {result.records} --expect-sha256 "
            f"{result.last_sha256}"
        )
    elif result.status == "empty":
        click.echo(f"empty: {log}, 0 records")
    else:
        click.echo(
            f"{result.status}: {log}, {result.records} records ({kinds}), "
            f"{len(result.problems)} problem(s)"
        )
    for repair in () if as_json else result.repaired:  # a notice: the log is not broken by it
        click.echo(f"notice: {log}, {repair.notice}")
    for problem in result.problems:
        where = "" if problem.line is None else f", line {problem.line}"
        click.echo(f"nof1: {log}{where}: {problem.problem}", err=True)
    if result.status == "empty":
        click.echo(
            f"nof1: {log}: empty: no record to verify, and an emptied log cannot be told from a "
            "new one; check it with the anchor kept from its last verification "
            "(--expect-records N --expect-sha256 SHA)",
            err=True,
        )
    if not result.intact:
        sys.exit(EXIT_BAD_INPUT)


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="nof1-demo", show_default=True)
@guard
def demo(out: str) -> None:
    """Run the whole pipeline on the packaged example trial and say where the files are."""
    from ..demo import run_demo

    for line in run_demo(Path(out)):
        click.echo(line)
