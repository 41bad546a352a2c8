"""The CENT 2015 checklist, mapped onto the sections of the clinician report.

CENT 2015 is the CONSORT extension for N-of-1 trials (Vohra S, Shamseer L, Sampson M, et al.
CONSORT extension for reporting N-of-1 trials (CENT) 2015 Statement. BMJ 2015;350:h1738). This
module owns the list of its items (numbers and short wording, paraphrased) and, for each, the
report section that answers it or the note that the clinician has to write it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ANCHORS",
    "CENT_ITEMS",
    "SECTIONS",
    "CentItem",
    "cent_view",
    "clinician_items",
    "render_cent",
]

SECTIONS = {
    "summary": "Summary",
    "trial": "Trial",
    "plots": "Plots",
    "methods": "Methods and estimates",
    "data": "Data completeness",
    "safety": "Safety",
    "sensitivity": "Sensitivity and assumptions",
}
"""Anchor id -> heading of the clinician report's sections."""

ANCHORS = {**SECTIONS, "amendments": "Safety: protocol amendments"}
"""Anchor id -> heading of every place a checklist item may point to: the sections, and the
parts of a section that answer an item of their own (the protocol's amendments, for 3b)."""


class CentItem(NamedTuple):
    """One checklist item: its number, topic, wording, where the report answers it, a note."""

    number: str
    topic: str
    text: str
    sections: tuple[str, ...]
    note: str = ""


CENT_ITEMS: tuple[CentItem, ...] = (
    CentItem(
        "1a",
        "Title",
        "Identification as an N-of-1 trial in the title",
        ("trial",),
        "the report's title; a publication's title is for the clinician to write",
    ),
    CentItem(
        "1b",
        "Abstract",
        "Structured summary of design, methods, results and conclusions",
        ("summary",),
        "the verdicts summarise the results; conclusions are the clinician's",
    ),
    CentItem(
        "2a",
        "Background",
        "Scientific background and rationale, and for using an N-of-1 design",
        (),
    ),
    CentItem(
        "2b",
        "Objectives",
        "Specific objectives or hypotheses",
        ("trial",),
        "outcomes, their direction and MCID are pre-specified; the question in words is the "
        "clinician's",
    ),
    CentItem(
        "3a",
        "Trial design",
        "Planned number and length of periods, run-in and washout, allocation",
        ("trial",),
    ),
    CentItem(
        "3b",
        "Changes to methods",
        "Important changes after the trial started, with reasons",
        ("amendments",),
        "with a monitor log (analyze --log), the protocol changes it recorded: when, and the "
        "protocol's SHA-256 before and after; the header's SHA-256 shows which protocol was "
        "analysed; the reasons are the clinician's to write",
    ),
    CentItem(
        "4a",
        "Participant",
        "Diagnosis or disorder, diagnostic criteria, comorbid conditions, concurrent therapies",
        (),
    ),
    CentItem("4b", "Setting", "Settings and locations where the data were collected", ()),
    CentItem(
        "5",
        "Interventions",
        "The interventions of each period in detail, including how and "
        "when they were actually given",
        ("trial", "safety"),
        "planned treatment and control in the header; doses taken are in the diary",
    ),
    CentItem(
        "6a",
        "Outcomes",
        "Pre-specified primary and secondary outcomes, how and when "
        "assessed, and the measurement properties of the tools",
        ("trial",),
        "the validity and reliability of the scales are for the clinician to state",
    ),
    CentItem(
        "6b", "Changes to outcomes", "Changes to outcomes after the trial started, with reasons", ()
    ),
    CentItem(
        "7a",
        "Sample size",
        "How the number of periods and measurements was determined",
        (),
        "`nof1 power` gives the simulated operating characteristics",
    ),
    CentItem(
        "7b",
        "Interim analyses and stopping",
        "Interim analyses and stopping guidelines",
        ("safety",),
        "the stop rules are listed with every episode and the clinician's decision on it",
    ),
    CentItem(
        "8a",
        "Sequence generation",
        "Whether the order of periods was randomised, why, and "
        "the method used to generate the sequence",
        ("trial",),
    ),
    CentItem(
        "8b",
        "Type of randomisation",
        "Type of randomisation and any restriction (pairs, blocks)",
        ("trial",),
    ),
    CentItem(
        "9",
        "Allocation concealment",
        "Mechanism used to conceal the sequence until periods were assigned",
        (),
    ),
    CentItem(
        "10",
        "Implementation",
        "Who generated the sequence and who assigned the interventions",
        (),
        "the schedule fingerprint identifies the sequence used",
    ),
    CentItem(
        "11a",
        "Blinding",
        "Who was blinded after assignment and how",
        ("trial",),
        "the protocol's blinding is in the header; how it was done is the clinician's",
    ),
    CentItem(
        "11b", "Similarity of interventions", "Similarity of the interventions, if relevant", ()
    ),
    CentItem(
        "12a",
        "Statistical methods",
        "Methods to compare interventions, including how "
        "carryover, period effects and within-patient correlation were handled",
        ("methods",),
    ),
    CentItem(
        "12b",
        "Additional analyses",
        "Methods of additional analyses (sensitivity, adjusted)",
        ("sensitivity",),
    ),
    CentItem("13a", "Periods", "Number of periods planned and completed, and analysed", ("data",)),
    CentItem(
        "13b",
        "Losses and exclusions",
        "Losses and exclusions of periods and measurements, with reasons",
        ("data",),
    ),
    CentItem("14a", "Dates", "Dates of the periods of treatment and follow-up", ("trial", "data")),
    CentItem(
        "14b",
        "Why the trial ended",
        "Why the trial ended or was stopped",
        ("safety",),
        "stop-rule episodes are shown, and a clinician's stop decision (who, when, why) "
        "with a monitor log; a fuller account is the clinician's",
    ),
    CentItem(
        "15",
        "Baseline data",
        "Baseline demographic and clinical characteristics of the participant",
        ("plots",),
        "the run-in is on the timeline; demographics are the clinician's",
    ),
    CentItem(
        "16",
        "Numbers analysed",
        "Number of periods analysed for each intervention",
        ("data", "methods"),
    ),
    CentItem(
        "17a",
        "Outcomes and estimation",
        "For each outcome, results for each period and the estimated effect with its precision",
        ("summary", "methods", "data"),
    ),
    CentItem(
        "17b",
        "Binary outcomes",
        "For binary outcomes, absolute and relative effects",
        (),
        "not applicable: the outcomes are scores",
    ),
    CentItem(
        "18",
        "Ancillary analyses",
        "Other analyses, including carryover, period effects and within-patient correlation",
        ("sensitivity",),
    ),
    CentItem("19", "Harms", "All important harms or unintended effects", ("safety",)),
    CentItem(
        "20",
        "Limitations",
        "Limitations, sources of bias and imprecision",
        ("sensitivity",),
        "the warnings are a start; the discussion is the clinician's",
    ),
    CentItem("21", "Generalisability", "Applicability of the findings", ()),
    CentItem(
        "22",
        "Interpretation",
        "Interpretation consistent with the results, balancing benefits and harms",
        ("summary",),
        "the benefit/harm line; the judgement is the clinician's",
    ),
    CentItem("23", "Registration", "Registration number and registry", ()),
    CentItem(
        "24",
        "Protocol",
        "Where the full protocol can be accessed",
        ("trial",),
        "the protocol file is identified by its SHA-256",
    ),
    CentItem("25", "Funding", "Sources of funding and role of funders", ()),
)
"""The CENT 2015 items in order (wording paraphrased from Vohra et al. 2015, BMJ 350:h1738)."""


def clinician_items() -> list[str]:
    """Numbers of the items the report does not answer at all: the clinician writes them."""
    return [
        item.number
        for item in CENT_ITEMS
        if not item.sections and "not applicable" not in item.note
    ]


def cent_view() -> list[dict]:
    """The checklist for ``_cent.html``: each item with the ``(anchor, heading)`` pairs of the
    report sections that answer it."""
    return [
        {**item._asdict(), "sections": [(s, ANCHORS[s]) for s in item.sections]}
        for item in CENT_ITEMS
    ]


def render_cent() -> str:
    """The checklist as an HTML table: item, topic, wording, where answered (links) and notes."""
    from .html import render

    return render("_cent.html", cent=cent_view())
