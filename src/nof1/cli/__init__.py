"""The ``nof1`` command line: a thin layer over the library.

Each command parses its arguments, calls one library function, renders the result (text, or one
JSON document with ``--json``) and maps errors to exit codes: 0 done, 2 bad input or usage (one
line on stderr naming file, line and column; with ``--json`` also one JSON document
``{"error", "file", "line", "column"}`` on stdout), and for ``monitor`` 3 review needed, 4 stop.
Heavy modules are imported inside the commands so ``nof1 --help`` stays instant.
"""

from __future__ import annotations

import click

from .. import __version__
from . import planning, series, supervision, trial

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nof1")
def cli() -> None:
    """N-of-1 trials: one patient, one treatment, alternating periods on and off it.

    Typical use: nof1 init trial.toml; nof1 check trial.toml; nof1 schedule trial.toml;
    nof1 template trial.toml --out diary.csv; during the trial nof1 monitor trial.toml diary.csv;
    at the end nof1 analyze trial.toml diary.csv --report report.html. Try nof1 demo.
    """


def main() -> None:
    """Entry point of the ``nof1`` console script."""
    cli(prog_name="nof1")


for _command in (
    trial.init,
    trial.check,
    trial.schedule,
    trial.template,
    trial.analyze,
    trial.monitor,
    trial.verify_log,
    supervision.decide,
    planning.power,
    planning.design,
    trial.demo,
    series.series,
    series.import_group,
    series.serve,
):
    cli.add_command(_command)
