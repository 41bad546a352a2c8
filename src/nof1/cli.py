"""The ``nof1`` command line: a thin layer over the library.

Each command parses its arguments, calls one library function, renders the result (text, or one
JSON document with ``--json``) and maps errors to exit codes: 0 done, 2 bad input or usage (one
line on stderr naming file, line and column), and for ``monitor`` 3 review needed, 4 stop.
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


def _fail(message: str) -> None:
    click.echo(f"nof1: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _guard(command):
    """Turn library errors into one line on stderr and exit 2; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Nof1Error as exc:
            _fail(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}")
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


def _load_protocol(path: str):
    from .protocol import Protocol

    return Protocol.load(path)


def _load(protocol_path: str, diary_path: str, date_format: str | None, allow_empty: bool):
    from .diary import read_diary

    protocol = _load_protocol(protocol_path)
    return protocol, read_diary(diary_path, protocol, date_format, allow_empty=allow_empty)


def _parse_date(value: str | None, option: str) -> _dt.date | None:
    if value is None:
        return None
    if value == "today":
        return _dt.date.today()
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD or 'today'")
    return None


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
date_format_option = click.option(
    "--date-format",
    default=None,
    metavar="FMT",
    help="strptime format of non-ISO diary dates, e.g. %d/%m/%Y.",
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
@json_option
@_guard
def check(protocol: str, diary: str | None, date_format: str | None, as_json: bool) -> None:
    """Validate PROTOCOL (and DIARY) and list every problem found."""
    from .checking import check_files

    found = check_files(protocol, diary, date_format)
    problems, warnings = found.problems, found.warnings
    if as_json:
        _emit_json(found.to_dict())
    else:
        for p in problems:
            click.echo(f"problem: {p}", err=True)
        for w in warnings:
            click.echo(f"warning: {w}")
        if not problems:
            files = " and ".join(x for x in (protocol, diary) if x)
            click.echo(f"ok: {files} {'are' if diary else 'is'} valid")
    if problems:
        sys.exit(EXIT_BAD_INPUT)


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--out", type=FILE, default=None, help="Write the CSV here instead of stdout.")
@json_option
@_guard
def schedule(protocol: str, out: str | None, as_json: bool) -> None:
    """Print the day-by-day schedule (day, date, phase, cycle, period, arm, washout)."""
    sched = _load_protocol(protocol).schedule()
    if as_json:
        text = json.dumps(sched.to_dict(), indent=2)
    else:
        frame = sched.to_frame()
        frame["washout"] = frame["washout"].map({True: "true", False: "false"})
        text = frame.to_csv(index=False, lineterminator="\n")
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
@_guard
def template(protocol: str, out: str, force: bool) -> None:
    """Write an empty diary CSV with one row per scheduled day."""
    from .template import write_template

    if Path(out).exists() and not force:
        _fail(f"{out} exists; pass --force to overwrite it")
    loaded = _load_protocol(protocol)
    n, blind = write_template(loaded, out)
    note = " (blinded: the arm is not shown)" if blind else ""
    click.echo(f"wrote {out}: {n} days to fill in{note}")


@cli.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE)
@click.option("--report", type=FILE, default=None, help="Also write an HTML report here.")
@click.option(
    "--audience",
    type=click.Choice(["clinician", "patient"]),
    default="clinician",
    help="Report for the clinician (default) or a one-page patient summary.",
)
@date_format_option
@json_option
@_guard
def analyze(
    protocol: str,
    diary: str,
    report: str | None,
    audience: str,
    date_format: str | None,
    as_json: bool,
) -> None:
    """Estimate the effect of the treatment on every outcome (SPEC section 5)."""
    from .analysis import analyze as run

    loaded, d = _load(protocol, diary, date_format, allow_empty=False)
    result = run(loaded, d)
    if report:
        Path(report).write_text(result.to_html(audience=audience), encoding="utf-8")
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    if report:
        click.echo(f"wrote {report}", err=True)


@cli.command()
@click.argument("protocol", type=FILE)
@click.argument("diary", type=FILE)
@click.option(
    "--as-of", default=None, metavar="DATE", help="Check up to this date (YYYY-MM-DD or 'today')."
)
@click.option("--log", type=FILE, default=None, help="Append one JSON line per run to this file.")
@date_format_option
@json_option
@_guard
def monitor(
    protocol: str,
    diary: str,
    as_of: str | None,
    log: str | None,
    date_format: str | None,
    as_json: bool,
) -> None:
    """Replay the stop rules day by day. Exit 0 continue, 3 review, 4 stop."""
    from .safety import log_run
    from .safety import monitor as run

    loaded, d = _load(protocol, diary, date_format, allow_empty=True)
    result = run(loaded, d, as_of=_parse_date(as_of, "--as-of"))
    if log:
        log_run(log, result, loaded, d)
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
    sys.exit(result.exit_code)


@cli.command()
@click.argument("protocol", type=FILE)
@click.option("--effect", type=float, required=True, help="True effect, treatment - control.")
@click.option("--sd", type=float, required=True, help="Marginal day-to-day SD of the outcome.")
@click.option("--rho", type=float, default=0.0, show_default=True, help="Lag-1 autocorrelation.")
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
@json_option
@_guard
def power(protocol: str, as_json: bool, **options: Any) -> None:
    """Simulated power, type I error and stop-rule burden of the protocol's design."""
    from .simulate import power as run

    result = run(_load_protocol(protocol), progress=not as_json, **options)
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
@click.option("--rho", type=float, default=0.0, show_default=True)
@click.option("--sims", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--plot", "plot_path", type=FILE, default=None, help="Write a PNG/SVG plot here.")
@json_option
@_guard
def design(protocol: str, as_json: bool, plot_path: str | None, **options: Any) -> None:
    """Compare designs: power and trial length across cycles and period lengths."""
    from .simulate import compare_designs

    result = compare_designs(_load_protocol(protocol), **options)
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


def main() -> None:
    """Entry point of the ``nof1`` console script."""
    cli(prog_name="nof1")


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
