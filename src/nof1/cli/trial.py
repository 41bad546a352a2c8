"""Commands of one trial, from its protocol to its report: init, check, schedule, template,
analyze, monitor, verify-log and demo.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import Nof1Error
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
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Estimate the effect of the treatment on every outcome.

    Per outcome: a t-test, a rank test and a randomization test on the period means (paired by
    cycle where the scheme pairs them), an AR(1) model of the daily values, a Bayesian model, NAP,
    and a verdict in words.
    """
    from ..analysis.analyze import analyze as run
    from ..analysis.summary import render_text
    from ..report.clinician import render_html

    check_extension(report, "--report", (".html", ".htm"))
    loaded, d = load(
        protocol, diary, date_format, allow_empty=False, max_bytes=max_bytes, sheet=sheet
    )
    result = run(loaded, d)
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
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Replay the stop rules day by day. Exit 0 continue, 3 review, 4 stop.

    Given a series file (a .toml with a [series] table) instead of PROTOCOL DIARY, replay every
    patient's rules with one as-of date and list those needing attention first.

    With --log, one hash-chained line per run is appended to a log (check it with nof1
    verify-log). A log that cannot be written never hides the verdict: the verdict is printed,
    the failure goes to stderr, and the exit code stays 4 or 3 (else 2).
    """
    from ..safety.monitor import log_run
    from ..safety.monitor import monitor as run

    if diary is None:
        _monitor_series(protocol, as_of, log, date_format or sheet, verbose, as_json)
        return
    loaded, d = load(
        protocol, diary, date_format, allow_empty=True, max_bytes=max_bytes, sheet=sheet
    )
    result = run(loaded, d, as_of=parse_date(as_of, "--as-of"))
    log_failure = None
    if log:
        try:
            log_run(log, result, loaded, d)
        except Nof1Error as exc:
            log_failure = str(exc)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    if log_failure:
        click.echo(f"nof1: the run was NOT logged: {log_failure}", err=True)
        sys.exit(result.exit_code or EXIT_BAD_INPUT)
    sys.exit(result.exit_code)


def _monitor_series(
    path: str, as_of: str | None, log: str | None, date_format, verbose: bool, as_json: bool
) -> None:
    """``nof1 monitor SERIES.toml``: the series triage; exit with the worst status."""
    from .. import collector
    from ..series import Series, monitor_path

    if log or date_format:
        option = "--log" if log else "--date-format or --sheet"
        fail(f"{option} is for one trial; give PROTOCOL DIARY, or leave it out for a series")
    if not Series.is_series_file(path):
        fail(f"{path}: give PROTOCOL DIARY, or a series file with a [series] table")
    # the long form is triaged column-wise (every patient's rules at once)
    day = parse_date(as_of, "--as-of")
    result = monitor_path(path, as_of=day, progress=progress_bar(path, "nof1 monitor"))
    say_reading(result.reading, verbose)
    if as_json:
        with collector.paused():  # 100,000 patients' dicts, alive until written
            emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
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

    An empty log is reported as empty (exit 2), never as intact: an emptied log cannot be told
    from a new one. Keep the records and the last line's SHA-256 that an intact check prints, and
    give them next time as --expect-records and --expect-sha256, so that lines removed from the
    end, or a log emptied, are found.
    """
    from ..safety.monitor import verify_log as run

    result = run(log, expect_sha256=expect_sha256, expect_records=expect_records)
    if as_json:
        emit_json(result.to_dict())
    elif result.intact:
        anchor = (
            ""
            if result.anchor_line is None
            else f"; the kept anchor (line {result.anchor_line}) is in place"
        )
        click.echo(
            f"intact: {log}, {result.records} records; last line SHA-256 {result.last_sha256}"
            f"{anchor}\n"
            f"keep as the anchor: --expect-records {result.records} --expect-sha256 "
            f"{result.last_sha256}"
        )
    elif result.status == "empty":
        click.echo(f"empty: {log}, 0 records")
    else:
        click.echo(
            f"{result.status}: {log}, {result.records} records, {len(result.problems)} problem(s)"
        )
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
