"""Commands that plan a trial before it runs: power (one design simulated) and design (designs
compared).
"""

from __future__ import annotations

from typing import Any

import click

from ..planning.defaults import DEFAULT_RHO
from .options import (
    FILE,
    check_extension,
    emit_json,
    guard,
    json_option,
    load_protocol,
    max_bytes_option,
)

__all__ = ["design", "power"]


def _progress_line(done: int, total: int) -> None:
    """Draw the power simulation's progress on one stderr line, ending it when all are done."""
    click.echo(f"\rsimulating trials: {done:,}/{total:,}", err=True, nl=done >= total)


@click.command()
@click.argument("protocol", type=FILE)
@click.option("--effect", type=float, required=True, help="True effect, treatment - control.")
@click.option("--sd", type=float, required=True, help="Marginal day-to-day SD of the outcome.")
@click.option(
    "--rho", type=float, default=DEFAULT_RHO, show_default=True, help="Lag-1 autocorrelation."
)
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
@guard
def power(protocol: str, as_json: bool, max_bytes: int | None, **options: Any) -> None:
    """Simulated power, type I error and stop-rule burden of the protocol's design.

    The JSON of two runs with the same arguments differs only in "seconds" (the compute time).
    """
    from ..planning.operating import power as run

    progress = None if as_json else _progress_line
    result = run(load_protocol(protocol, max_bytes), progress=progress, **options)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render_text())


@click.command()
@click.argument("protocol", type=FILE)
@click.option("--cycles", default="3-8", show_default=True, help="Range or list, e.g. 3-8 or 4,6.")
@click.option("--period-days", default="7,14", show_default=True, help="List of period lengths.")
@click.option("--effect", type=float, required=True)
@click.option("--sd", type=float, required=True)
@click.option(
    "--rho", type=float, default=DEFAULT_RHO, show_default=True, help="Lag-1 autocorrelation."
)
@click.option("--sims", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--plot", "plot_path", type=FILE, default=None, help="Write a plot here (.png, .svg or .pdf)."
)
@max_bytes_option
@json_option
@guard
def design(
    protocol: str, as_json: bool, plot_path: str | None, max_bytes: int | None, **options: Any
) -> None:
    """Compare designs: power and trial length across cycles and period lengths.

    Only designs that nof1 check would accept are compared; the others are listed with the
    reason. Designs whose randomization test cannot reach alpha (smallest two-sided p above
    alpha, as nof1 check warns) are flagged. The JSON of two runs with the same arguments differs
    only in "seconds".
    """
    from ..planning.design import PLOT_FORMATS, compare_designs

    check_extension(plot_path, "--plot", PLOT_FORMATS)
    result = compare_designs(load_protocol(protocol, max_bytes), **options)
    if plot_path:
        result.plot_to(plot_path)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.render_text())
