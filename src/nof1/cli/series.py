"""Commands beyond one trial: series (pool a series of trials), import (exports of other systems
to diaries) and serve (the local web page).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from .options import (
    FILE,
    check_extension,
    emit_json,
    fail,
    guard,
    json_option,
    load_protocol,
    progress_bar,
    say_reading,
    verbose_option,
)

__all__ = ["import_group", "series", "serve"]


@click.command()
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
@verbose_option
@json_option
@guard
def series(
    series_file: str,
    report: str | None,
    engine: str,
    scheduler: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Pool a series of N-of-1 trials: average effect, heterogeneity, shrunken effects.

    A long-form series (template, patients table, one long diary) is read column-wise; a
    patient goes to the one-by-one reader only for a problem it must name. --verbose says how
    many went which way and why.
    """
    from ..series import Series, analyze_series, monitor_series
    from ..series.engine import analyze_path
    from ..series.reading import REPORT_READS_ALL, Reading

    check_extension(report, "--report", (".html", ".htm"))
    if scheduler and engine != "dask":
        fail("--scheduler is for --engine dask")
    # the report needs every patient's trial (its triage); without it the long form is read
    # column-wise (issue 14). Stage 1 and pooling are the same either way.
    if report:
        loaded = Series.load(series_file)
        result = analyze_series(loaded)
        result = replace(result, reading=Reading.whole(result.trials, REPORT_READS_ALL))
    else:
        result = analyze_path(series_file, progress_bar(series_file), engine, scheduler)
    say_reading(result.reading, verbose)
    if report:
        from ..report.series import render_series_html

        html = render_series_html(result, monitor_series(loaded))
        Path(report).write_text(html, encoding="utf-8")
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render_text(), nl=False)
    if report:
        click.echo(f"wrote {report}", err=True)


# -- import: exports of other systems to diaries -------------------------------------------------


@click.group(name="import")
def import_group() -> None:
    """Turn an export of another system into a nof1 diary CSV."""


@import_group.command(name="redcap")
@click.argument("export", type=FILE)
@click.option("--record", required=True, help="The record ID of the patient.")
@click.option("--date-field", required=True, help="The daily instrument's date field.")
@click.option(
    "--event-date-field",
    "event_date_fields",
    multiple=True,
    metavar="FIELD",
    help="The date field of another instrument (an adverse event form's ae_date) whose values "
    "of protocol columns are carried onto their dates; repeat for several instruments.",
)
@click.option("--protocol", required=True, type=FILE, help="The trial's protocol.")
@click.option("--out", type=FILE, required=True, help="The diary CSV to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@guard
def import_redcap(
    export: str,
    record: str,
    date_field: str,
    event_date_fields: tuple[str, ...],
    protocol: str,
    out: str,
    force: bool,
    as_json: bool,
) -> None:
    """A REDCap "CSV (raw data)" export of a repeating daily instrument -> a diary of one record.

    Values of protocol columns kept in another instrument (an adverse event form) are carried
    onto their dates, by --event-date-field or the instrument's only date field; without one the
    import stops, naming the instrument. Prints what was mapped, renamed, kept, carried, dropped
    and left out, then checks the diary written.
    """
    from ..diary.read import read_diary
    from ..diary.redcap import import_redcap as run

    if Path(out).exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    loaded = load_protocol(protocol)
    result = run(export, loaded, record, date_field, event_date_fields)
    Path(out).write_text(result.text, encoding="utf-8")
    diary = read_diary(out, loaded)
    if as_json:
        emit_json({"out": out, **result.to_dict(), "notes": list(diary.notes)})
        return
    for line in result.summary():
        click.echo(line)
    click.echo(f"wrote {out}: {result.rows} row(s); it reads as a diary of {loaded.trial.id}")


@click.command()
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
    "--max-upload-mb",
    type=float,
    default=20.0,
    show_default=True,
    help="Largest uploaded file accepted.",
)
@click.option(
    "--workspace",
    default=None,
    metavar="DIR",
    help="Keep trials between visits in this folder (created with mode 700): the clinic list, "
    "each trial's diaries, monitor log and decisions, at /workspace.",
)
@guard
def serve(
    port: int,
    host: str,
    no_browser: bool,
    token: str | None,
    max_upload_mb: float,
    workspace: str | None,
) -> None:
    """Start the local web page for clinicians (design a protocol, check a trial; with
    --workspace, keep a clinic's trials between visits)."""
    from ..web.server import make_server, url_of

    server = make_server(host, port, token, int(max_upload_mb * 1024 * 1024), workspace=workspace)
    url = url_of(host, server.server_port)
    click.echo(f"nof1 web page on {url} (Ctrl+C to stop)", err=True)
    if workspace is not None:
        click.echo(f"clinic workspace: {server.app.config['NOF1_WORKSPACE'].path}", err=True)
        url += "workspace"
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
