"""The ``nof1`` command line: a thin layer over the library.

Each command parses its arguments, calls one library function, renders the result (text, or one
JSON document with ``--json``) and maps errors to exit codes: 0 done, 2 bad input or usage (one
line on stderr naming file, line and column; with ``--json`` also one JSON document
``{"error", "file", "line", "column"}`` on stdout), and for ``monitor`` 3 review needed, 4 stop.
Heavy modules are imported inside the commands so ``nof1 --help`` stays instant.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import Nof1Error

__all__ = ["main"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_REVIEW, EXIT_STOP = 0, 2, 3, 4


def _fail(message: str, error: Exception | None = None) -> None:
    """One line on stderr and exit 2; with ``--json`` also the error as JSON on stdout."""
    click.echo(f"nof1: {message}", err=True)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.params.get("as_json"):
        path = error.filename if isinstance(error, OSError) else getattr(error, "path", None)
        _emit_json(
            {
                "error": message,
                "file": None if path is None else str(path),
                "line": getattr(error, "line", None),
                "column": getattr(error, "column", None),
            }
        )
    sys.exit(EXIT_BAD_INPUT)


def _guard(command):
    """Turn library errors into one line on stderr and exit 2; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Nof1Error as exc:
            _fail(str(exc), exc)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}", exc)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the traceback for developers
            if os.environ.get("NOF1_DEBUG"):
                raise
            click.echo(
                f"nof1: internal error ({type(exc).__name__}: {exc}); this is a bug in nof1, "
                "please report it (set NOF1_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def _emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, allow_nan=False, default=str))


def _load_protocol(path: str, max_bytes: int | None = None):
    from .trial.protocol import Protocol

    return Protocol.load(path, max_bytes=max_bytes)


def _load(
    protocol_path: str,
    diary_path: str,
    date_format: str | None,
    allow_empty: bool,
    max_bytes: int | None = None,
    sheet: str | None = None,
):
    from .diary.read import read_diary

    protocol = _load_protocol(protocol_path, max_bytes)
    diary = read_diary(
        diary_path, protocol, date_format, allow_empty, max_bytes=max_bytes, sheet=sheet
    )
    return protocol, diary


def _parse_date(value: str | None, option: str) -> _dt.date | None:
    from .limits import date_problem

    if value is None:
        return None
    if value == "today":
        return _dt.date.today()
    try:
        day = _dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD or 'today'")
        return None
    if date_problem(day):
        _fail(f"{option} {value} {date_problem(day)}")
    return day


def _check_extension(path: str | None, option: str, allowed: tuple[str, ...]) -> None:
    """Refuse an output file whose extension names a format nof1 does not write."""
    if path is not None and Path(path).suffix.lower() not in allowed:
        _fail(
            f"{option} {path}: the file name must end in {' or '.join(allowed)} (the format "
            "is taken from it)"
        )


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
date_format_option = click.option(
    "--date-format",
    default=None,
    metavar="FMT",
    help="strptime format of non-ISO diary dates, e.g. %d/%m/%Y.",
)
max_bytes_option = click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Read input files up to N bytes (default 1 MB for a protocol, 50 MB for a diary).",
)
sheet_option = click.option(
    "--sheet", default=None, metavar="NAME", help="Sheet of an .xlsx diary (default: the first)."
)
FILE = click.Path(dir_okay=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nof1")
def cli() -> None:
    """N-of-1 trials: one patient, one treatment, alternating periods on and off it.

    Typical use: nof1 init trial.toml; nof1 check trial.toml; nof1 schedule trial.toml;
    nof1 template trial.toml --out diary.csv; during the trial nof1 monitor trial.toml diary.csv;
    at the end nof1 analyze trial.toml diary.csv --report report.html. Try nof1 demo.
    """


@cli.command()
@click.argument("path", type=FILE)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@_guard
def init(path: str, force: bool) -> None:
    """Write a commented example protocol to PATH, ready to edit."""
    from .example import example_protocol_text

    target = Path(path)
    if target.exists() and not force:
        _fail(f"{path} exists; pass --force to overwrite it")
    target.write_text(example_protocol_text(), encoding="utf-8")
    click.echo(f"wrote {path}: edit it, then run: nof1 check {path}")


@cli.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE, required=False)
@date_format_option
@max_bytes_option
@sheet_option
@json_option
@_guard
def check(
    protocol: str,
    diary: str | None,
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Validate PROTOCOL (and DIARY) and list every problem found."""
    from .checking import check_files

    report = check_files(protocol, diary, date_format, max_bytes, sheet)
    if as_json:
        _emit_json(report.to_dict())
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


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--out", type=FILE, default=None, help="Write the CSV here instead of stdout.")
@max_bytes_option
@json_option
@_guard
def schedule(protocol: str, out: str | None, max_bytes: int | None, as_json: bool) -> None:
    """Print the day-by-day schedule (day, date, phase, cycle, period, arm, washout)."""
    sched = _load_protocol(protocol, max_bytes).schedule()
    text = json.dumps(sched.to_dict(), indent=2) if as_json else sched.to_csv()
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(
            f"wrote {out}: {sched.n_days} days, allocation fingerprint {sched.fingerprint}",
            err=as_json,
        )
    else:
        click.echo(text.rstrip("\n"))


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--out", type=FILE, required=True, help="The diary CSV to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@max_bytes_option
@_guard
def template(protocol: str, out: str, force: bool, max_bytes: int | None) -> None:
    """Write an empty diary CSV with one row per scheduled day."""
    from .diary.template import write_template

    if Path(out).exists() and not force:
        _fail(f"{out} exists; pass --force to overwrite it")
    loaded = _load_protocol(protocol, max_bytes)
    n, blind = write_template(loaded, out)
    note = " (blinded: the arm is not shown)" if blind else ""
    click.echo(f"wrote {out}: {n} days to fill in{note}")


@cli.command()
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
@_guard
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
    from .analysis.analyze import analyze as run
    from .report.clinician import render_html

    _check_extension(report, "--report", (".html", ".htm"))
    loaded, d = _load(
        protocol, diary, date_format, allow_empty=False, max_bytes=max_bytes, sheet=sheet
    )
    result = run(loaded, d)
    if report:
        Path(report).write_text(render_html(result, audience=audience), encoding="utf-8")
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    if report:
        click.echo(f"wrote {report}", err=True)


@cli.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE, required=False)
@click.option(
    "--as-of", default=None, metavar="DATE", help="Check up to this date (YYYY-MM-DD or 'today')."
)
@click.option("--log", type=FILE, default=None, help="Append one JSON line per run to this file.")
@date_format_option
@max_bytes_option
@sheet_option
@json_option
@_guard
def monitor(
    protocol: str,
    diary: str | None,
    as_of: str | None,
    log: str | None,
    date_format: str | None,
    max_bytes: int | None,
    sheet: str | None,
    as_json: bool,
) -> None:
    """Replay the stop rules day by day. Exit 0 continue, 3 review, 4 stop.

    Given a series file (a .toml with a [series] table) instead of PROTOCOL DIARY, replay every
    patient's rules with one as-of date and list those needing attention first.

    With --log, one hash-chained line per run is appended to a log (check it with nof1
    verify-log). A log that cannot be written never hides the verdict: the verdict is printed,
    the failure goes to stderr, and the exit code stays 4 or 3 (else 2).
    """
    from .safety.monitor import log_run
    from .safety.monitor import monitor as run

    if diary is None:
        _monitor_series(protocol, as_of, log, date_format or sheet, as_json)
        return
    loaded, d = _load(
        protocol, diary, date_format, allow_empty=True, max_bytes=max_bytes, sheet=sheet
    )
    result = run(loaded, d, as_of=_parse_date(as_of, "--as-of"))
    log_failure = None
    if log:
        try:
            log_run(log, result, loaded, d)
        except Nof1Error as exc:
            log_failure = str(exc)
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    if log_failure:
        click.echo(f"nof1: the run was NOT logged: {log_failure}", err=True)
        sys.exit(result.exit_code or EXIT_BAD_INPUT)
    sys.exit(result.exit_code)


@cli.command("verify-log")
@click.argument("log", type=FILE)
@json_option
@_guard
def verify_log(log: str, as_json: bool) -> None:
    """Check the hash chain of a monitor log. Exit 0 intact, 2 naming the first bad line."""
    from .safety.monitor import verify_log as run

    result = run(log)
    if as_json:
        _emit_json(result.to_dict())
    elif result.intact:
        click.echo(
            f"intact: {log}, {result.records} records; last line SHA-256 {result.last_sha256}"
        )
    if not result.intact:
        click.echo(f"nof1: {log}, line {result.line}: {result.problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _progress_line(done: int, total: int) -> None:
    """Draw the power simulation's progress on one stderr line, ending it when all are done."""
    click.echo(f"\rsimulating trials: {done:,}/{total:,}", err=True, nl=done >= total)


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--effect", type=float, required=True, help="True effect, treatment - control.")
@click.option("--sd", type=float, required=True, help="Marginal day-to-day SD of the outcome.")
@click.option("--rho", type=float, default=0.4, show_default=True, help="Lag-1 autocorrelation.")
@click.option("--sims", type=int, default=2000, show_default=True, help="Simulated trials.")
@click.option(
    "--method",
    type=click.Choice(["paired-t", "wilcoxon", "randomization", "ar1", "bayes"]),
    default="paired-t",
    show_default=True,
    help="The primary method whose rejection rate is 'power'.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--carryover-days", type=float, default=0.0, show_default=True)
@click.option("--trend", type=float, default=0.0, show_default=True, help="Drift per day.")
@click.option("--missing", type=float, default=0.0, show_default=True, help="P(day missing).")
@click.option("--integer", is_flag=True, help="Round and clip to the outcome's scale.")
@click.option("--outcome", default=None, help="Outcome to simulate (default: the primary).")
@max_bytes_option
@json_option
@_guard
def power(protocol: str, as_json: bool, max_bytes: int | None, **options: Any) -> None:
    """Simulated power, type I error and stop-rule burden of the protocol's design.

    The JSON of two runs with the same arguments differs only in "seconds" (the compute time).
    """
    from .planning.operating import power as run

    progress = None if as_json else _progress_line
    result = run(_load_protocol(protocol, max_bytes), progress=progress, **options)
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--cycles", default="3-8", show_default=True, help="Range or list, e.g. 3-8 or 4,6.")
@click.option("--period-days", default="7,14", show_default=True, help="List of period lengths.")
@click.option("--effect", type=float, required=True)
@click.option("--sd", type=float, required=True)
@click.option("--rho", type=float, default=0.4, show_default=True, help="Lag-1 autocorrelation.")
@click.option("--sims", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--plot", "plot_path", type=FILE, default=None, help="Write a plot here (.png, .svg or .pdf)."
)
@max_bytes_option
@json_option
@_guard
def design(
    protocol: str, as_json: bool, plot_path: str | None, max_bytes: int | None, **options: Any
) -> None:
    """Compare designs: power and trial length across cycles and period lengths.

    Only designs that nof1 check would accept are compared; the others are listed with the
    reason. The JSON of two runs with the same arguments differs only in "seconds".
    """
    from .planning.design import PLOT_FORMATS, compare_designs

    _check_extension(plot_path, "--plot", PLOT_FORMATS)
    result = compare_designs(_load_protocol(protocol, max_bytes), **options)
    if plot_path:
        result.plot_to(plot_path)
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())


@cli.command()
@click.option("--out", type=click.Path(file_okay=False), default="nof1-demo", show_default=True)
@_guard
def demo(out: str) -> None:
    """Run the whole pipeline on the packaged example trial and say where the files are."""
    from .demo import run_demo

    for line in run_demo(Path(out)):
        click.echo(line)


def _monitor_series(path: str, as_of: str | None, log: str | None, date_format, as_json) -> None:
    """``nof1 monitor SERIES.toml``: the series triage; exit with the worst status."""
    from .series import Series, monitor_path

    if log or date_format:
        option = "--log" if log else "--date-format or --sheet"
        _fail(f"{option} is for one trial; give PROTOCOL DIARY, or leave it out for a series")
    if not Series.is_series_file(path):
        _fail(f"{path}: give PROTOCOL DIARY, or a series file with a [series] table")
    # the long form is triaged column-wise (every patient's rules at once)
    day = _parse_date(as_of, "--as-of")
    result = monitor_path(path, as_of=day, progress=_progress_bar(path))
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    sys.exit(result.exit_code)


#: A series whose files add up to more than this shows a progress bar on stderr.
PROGRESS_BYTES = 20_000_000


def _series_size(path: str) -> int:
    """Bytes of a series file's folder (the long diary dominates); 0 when unreadable."""
    try:
        return sum(f.stat().st_size for f in Path(path).resolve().parent.rglob("*") if f.is_file())
    except OSError:
        return 0


def _progress_bar(path: str):
    """A progress callback drawing a bar on stderr for a large series, else None."""
    if _series_size(path) <= PROGRESS_BYTES:
        return None
    state = {"last": -1}

    def show(done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == state["last"]:
            return
        state["last"] = percent
        bar = "#" * (percent // 5)
        end = "\n" if done >= total else ""
        click.echo(f"\rnof1 series: [{bar:<20}] {percent:3d}%", err=True, nl=False)
        if end:
            click.echo("", err=True)

    return show


@cli.command()
@click.argument("series_file", metavar="SERIES.toml", type=FILE)
@click.option("--report", type=FILE, default=None, help="Write the HTML series report here.")
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where stage 1 runs: this process, or a Dask cluster (a Parquet long diary; "
    "needs the nof1[dask] extra).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Address of a running Dask scheduler (tcp://host:8786); default a local cluster.",
)
@json_option
@_guard
def series(
    series_file: str, report: str | None, engine: str, scheduler: str | None, as_json: bool
) -> None:
    """Pool a series of N-of-1 trials: average effect, heterogeneity, shrunken effects."""
    from .series import Series, monitor_series

    _check_extension(report, "--report", (".html", ".htm"))
    if scheduler and engine != "dask":
        _fail("--scheduler is for --engine dask")
    # scale hook (issue 14): the long form is read column-wise and stage 1 is vectorized
    from .series.engine import analyze_loaded, analyze_path

    if report:
        loaded = Series.load(series_file)
        result = analyze_loaded(loaded)
    else:
        result = analyze_path(series_file, _progress_bar(series_file), engine, scheduler)
    if report:
        from .report.series import render_series_html

        html = render_series_html(result, monitor_series(loaded))
        Path(report).write_text(html, encoding="utf-8")
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text(), nl=False)
    if report:
        click.echo(f"wrote {report}", err=True)


def main() -> None:
    """Entry point of the ``nof1`` console script."""
    cli(prog_name="nof1")


# -- import: exports of other systems to diaries -------------------------------------------------


@cli.group(name="import")
def import_group() -> None:
    """Turn an export of another system into a nof1 diary CSV."""


@import_group.command(name="redcap")
@click.argument("export", type=FILE)
@click.option("--record", required=True, help="The record ID of the patient.")
@click.option("--date-field", required=True, help="The daily instrument's date field.")
@click.option("--protocol", required=True, type=FILE, help="The trial's protocol.")
@click.option("--out", type=FILE, required=True, help="The diary CSV to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@_guard
def import_redcap(
    export: str,
    record: str,
    date_field: str,
    protocol: str,
    out: str,
    force: bool,
    as_json: bool,
) -> None:
    """A REDCap "CSV (raw data)" export of a repeating daily instrument -> a diary of one record.

    Prints what was mapped, renamed, kept, dropped and left out, then checks the diary written.
    """
    from .diary.read import read_diary
    from .diary.redcap import import_redcap as run

    if Path(out).exists() and not force:
        _fail(f"{out} exists; pass --force to overwrite it")
    loaded = _load_protocol(protocol)
    result = run(export, loaded, record, date_field)
    Path(out).write_text(result.text, encoding="utf-8")
    diary = read_diary(out, loaded)
    if as_json:
        _emit_json({"out": out, **result.to_dict(), "notes": list(diary.notes)})
        return
    for line in result.summary():
        click.echo(line)
    click.echo(f"wrote {out}: {result.rows} row(s); it reads as a diary of {loaded.trial.id}")


@cli.command()
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option(
    "--token",
    default=None,
    envvar="NOF1_TOKEN",
    help="Require this token (needed for any other host); or set NOF1_TOKEN.",
)
@click.option(
    "--max-upload-mb", type=float, default=20.0, show_default=True, help="Largest upload accepted."
)
@_guard
def serve(port: int, host: str, no_browser: bool, token: str | None, max_upload_mb: float) -> None:
    """Start the local web page for clinicians (design a protocol, check a trial)."""
    from .web.server import make_server, url_of

    server = make_server(host, port, token, int(max_upload_mb * 1024 * 1024))
    url = url_of(host, server.server_port)
    click.echo(f"nof1 web page on {url} (Ctrl+C to stop)", err=True)
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
