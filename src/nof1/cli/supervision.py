"""The clinician's decisions on the record: ``nof1 decide``.

A thin layer over :func:`nof1.safety.decide.record_decision`: every refusal is the library's
:class:`~nof1.errors.LogError`, one line on stderr and exit 2.
"""

from __future__ import annotations

import click

from .options import emit_json, fail, guard, json_option

__all__ = ["decide"]


@click.command()
@click.argument("log", type=click.Path())  # a folder is refused by the library, in one line
@click.argument("event_id")
@click.option(
    "--decision",
    default=None,
    metavar="continue|stop",
    help="continue: the episode was looked at and no longer counts toward the status (the rule "
    "stays on, and starts afresh after the days seen); stop: the trial ends.",
)
@click.option("--by", default=None, metavar="NAME", help="Who decides, as it should stand.")
@click.option("--reason", default=None, metavar="TEXT", help="Why, in a sentence.")
@click.option(
    "--run",
    "seen_run",
    default=None,
    metavar="SHA",
    help="The run you were shown, as nof1 monitor --log printed it (Logged as run SHA): refused "
    "when the trial was checked again since.",
)
@json_option
@guard
def decide(
    log: str,
    event_id: str,
    decision: str | None,
    by: str | None,
    reason: str | None,
    seen_run: str | None,
    as_json: bool,
) -> None:
    """Record a clinician's decision on an episode in a monitor log. Exit 0 recorded, 2 refused.

    EVENT_ID is an episode as the latest nof1 monitor run with --log LOG listed it, RULE
    NAME@DATE (quote it: 'Serious adverse event@2026-02-02'). The decision is appended to LOG,
    hash-chained like the runs, with who decided, why, when, and the date the latest run checked
    the diary up to. The next nof1 monitor run with --log LOG honours it; nof1 verify-log checks
    it. Give --run SHA, the run nof1 monitor --log printed, so that the decision is refused when
    the trial was checked again since. Nothing is recorded, and the command exits 2, for a log
    that does not verify, a log whose trial was stopped already (a stop is final), a latest run
    that is not the one given with --run, an episode the latest run did not list, or an empty
    name or reason.
    """
    from ..safety.decide import record_decision

    for option, value, metavar in (
        ("--decision", decision, "continue|stop"),
        ("--by", by, "NAME"),
        ("--reason", reason, "TEXT"),
    ):
        if value is None:
            fail(f"{log}: {option} {metavar} is required; nothing was recorded")
    record = record_decision(log, event_id, decision, by, reason, seen_run=seen_run)
    if as_json:
        emit_json(record)
        return
    through = record["through"]
    click.echo(
        f"recorded in {log}: {record['decision']} on {record['event']!r}, by {record['by']}, "
        f"at {record['at']}"
    )
    click.echo(f"reason: {record['reason']}")
    end = record.get("episode_end")
    if record["decision"] == "continue" and end is not None:  # no restart: it had ended
        click.echo(
            f"the diary was seen through {through}: this episode, which ended on {end}, no longer "
            "counts toward the status (the rule stays on: a later episode counts)"
        )
    elif record["decision"] == "continue":
        click.echo(
            f"the diary was seen through {through}: this episode no longer counts toward the "
            f"status, and the rule starts afresh after {through} (it stays on: a later episode "
            "counts)"
        )
    else:
        click.echo(
            f"the diary was seen through {through}: the trial is stopped; nof1 monitor with this "
            "log reads STOP from now on"
        )
