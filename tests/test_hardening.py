"""Hostile and absurd input (issue 10): exit 2 with one clear line, or work, within bounds.

Each case of the issue is here: protocols past the limits, devices and huge files, deep TOML,
power settings, formula injection through CSV files, and the rough edges of the command line.
Limits are documented in docs/protocol.md ("Limits"). The subprocess test at the end runs the worst
cases under a 2 GB address-space limit and a 20 s timeout (marked slow).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
import warnings

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import protocol_dict, protocol_toml
from nof1.checking import CheckReport, check_files
from nof1.cli import cli
from nof1.csv_safe import safe_cell
from nof1.diary.read import read_diary
from nof1.errors import DiaryError, PlanningError, ProtocolError
from nof1.example import example_paths
from nof1.planning.design import compare_designs
from nof1.planning.operating import power
from nof1.trial.protocol import Design, Protocol
from nof1.trial.schedule import Schedule, count_allocations, draw_index

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL, DIARY = (str(p) for p in example_paths())
EXAMPLE_TEXT = Path(PROTOCOL).read_text(encoding="utf-8")
START_2026 = Protocol.load(PROTOCOL).trial.start


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_exit_2(result) -> str:
    """The result exited 2 with exactly one line on stderr (no traceback); that line."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


def problems_of(doc) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        Protocol.from_dict(doc)
    return info.value.problems


def example_with(tmp_path: Path, old: str, new: str, name: str = "protocol.toml") -> str:
    """The packaged example protocol with one line changed (``old`` must be in it)."""
    assert old in EXAMPLE_TEXT
    path = tmp_path / name
    path.write_text(EXAMPLE_TEXT.replace(old, new, 1), encoding="utf-8")
    return str(path)


# -- bounds of the protocol -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"design": {"run_in_days": 1_000_000_000}}, "design.run_in_days"),
        ({"design": {"cycles": 10**18}}, "design.cycles"),
        ({"design": {"cycles": 101}}, "design.cycles"),
        ({"design": {"period_days": 1_000_000}}, "design.period_days"),
        ({"design": {"washout_days": 400, "period_days": 7}}, "design.washout_days"),
        ({"trial": {"start": "9999-12-01"}}, "trial.start"),
        ({"trial": {"start": "0001-01-01"}}, "trial.start"),
        ({"trial": {"start": "2200-12-01"}}, "would end after 2200-12-31"),
        ({"design": {"cycles": 100, "period_days": 30}}, "at most 3653 days"),
        ({"analysis": {"alpha": 1e-300}}, "analysis.alpha"),
        ({"analysis": {"alpha": 0.9}}, "analysis.alpha"),
        (
            {
                "outcomes": [
                    {"name": "pain", "min": -1e300, "max": 10, "better": "lower", "mcid": 1}
                ]
            },
            "outcomes[1] (pain).min",
        ),
        ({"diary": {"columns": [f"c{i}" for i in range(101)]}}, "diary.columns: 101 names"),
    ],
)
def test_absurd_protocol_values_are_refused_naming_the_key(tables, key):
    problems = problems_of(protocol_dict(**tables))
    assert any(key in p for p in problems), problems


def test_values_at_the_bounds_are_accepted():
    doc = protocol_dict(
        trial={"start": "1900-01-01"},
        design={"cycles": 100, "period_days": 18, "run_in_days": 0, "washout_days": 17},
        analysis={"alpha": 0.5},
    )
    protocol = Protocol.from_dict(doc)
    assert protocol.schedule().n_days == 3600  # within ten years (3653 days)


def test_the_whole_schedule_must_end_by_2200():
    doc = protocol_dict(
        trial={"start": "2200-12-31"},
        design={"cycles": 1, "period_days": 1, "run_in_days": 0, "washout_days": 0},
    )
    # two periods of one day: the second day is 2201-01-01
    assert any("2200-12-31" in p for p in problems_of(doc))
    doc["trial"]["start"] = "2200-12-30"
    assert Protocol.from_dict(doc).schedule().end.isoformat() == "2200-12-31"


def test_every_problem_is_listed_at_once():
    doc = protocol_dict(
        design={"cycles": 10**18, "period_days": 10**6},
        trial={"start": "9999-12-01"},
        analysis={"alpha": 1e-300},
    )
    problems = problems_of(doc)
    for key in ("design.cycles", "design.period_days", "trial.start", "analysis.alpha"):
        assert any(key in p for p in problems), (key, problems)


def test_check_refuses_the_crash_cases_of_the_issue_in_one_line_each(tmp_path):
    cases = [
        ("run_in_days = 7", "run_in_days = 1000000000", "design.run_in_days"),
        ("cycles = 4 ", "cycles = 1000000000000000000 ", "design.cycles"),
        ("period_days = 14", "period_days = 1000000", "design.period_days"),
        ("start = 2026-01-05", "start = 9999-12-01", "trial.start"),
        ("alpha = 0.05", "alpha = 1e-300", "analysis.alpha"),
    ]
    for old, new, key in cases:
        start = time.perf_counter()
        result = run("check", example_with(tmp_path, old, new))
        assert result.exit_code == 2 and key in result.stderr, (new, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
        assert time.perf_counter() - start < 10


def test_monitor_of_a_protocol_starting_in_year_1_is_refused(tmp_path):
    protocol = example_with(tmp_path, "start = 2026-01-05", "start = 0001-01-01")
    diary = tmp_path / "diary.csv"
    diary.write_text("date,pain,fatigue\n", encoding="utf-8")
    line = one_line_exit_2(run("monitor", protocol, str(diary)))
    assert "trial.start" in line and "1900" in line


def test_diary_dates_and_as_of_outside_the_plausible_years_are_refused(tmp_path):
    diary = tmp_path / "diary.csv"
    diary.write_text("date,pain,fatigue\n9999-12-31,3,3\n", encoding="utf-8")
    line = one_line_exit_2(run("monitor", PROTOCOL, str(diary)))
    assert "line 2" in line and "'date'" in line and "1900 to 2200" in line
    line = one_line_exit_2(run("monitor", PROTOCOL, DIARY, "--as-of", "9999-12-31"))
    assert "--as-of" in line


# -- the schedule at the cycle bound -------------------------------------------------------------


def test_random_scheme_at_100_cycles_is_counted_without_recursion():
    # without max_run every arrangement of 100 T and 100 C periods is admissible: C(200, 100)
    design = Design("random", 100, 7, seed=3)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # far below 200 periods: a recursive count would fail
    try:
        start = time.perf_counter()
        assert count_allocations(design) == math.comb(200, 100)
        schedule = Schedule.from_design(design, Protocol.load(PROTOCOL).trial.start)
    finally:
        sys.setrecursionlimit(limit)
    assert time.perf_counter() - start < 10
    assert schedule.arms.count("T") == 100 and len(schedule.arms) == 200


def test_random_scheme_with_max_run_one_admits_the_two_alternations():
    design = Design("random", 100, 7, seed=3, max_run=1)
    assert count_allocations(design) == 2  # TCTC... and CTCT...: brute reasoning


def test_randomized_pairs_at_100_cycles_and_a_draw_past_256_bits():
    schedule = Schedule.from_design(Design("randomized-pairs", 100, 2, seed=1), START_2026)
    assert schedule.n_allocations == 2**100
    with pytest.raises(ValueError, match="more than one draw can index"):
        draw_index(Design("randomized-pairs", 257, 2, seed=1))


# -- reading files ------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_read_only_up_to_the_limit(device):
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    line = one_line_exit_2(run("check", device))
    assert device in line and "larger than 1,000,000 bytes" in line and "--max-bytes" in line
    result = run("check", PROTOCOL, device)
    assert result.exit_code == 2 and "larger than 50,000,000 bytes" in result.stderr
    line = one_line_exit_2(run("analyze", PROTOCOL, device, "--max-bytes", "1000"))
    assert "larger than 1,000 bytes" in line


def test_max_bytes_raises_and_lowers_the_limit(tmp_path):
    larger = max((PROTOCOL, DIARY), key=lambda p: Path(p).stat().st_size)
    size = Path(larger).stat().st_size
    line = one_line_exit_2(run("monitor", PROTOCOL, DIARY, "--max-bytes", str(size - 1)))
    assert larger in line
    assert run("monitor", PROTOCOL, DIARY, "--max-bytes", str(size)).exit_code in (0, 3, 4)
    with pytest.raises(DiaryError, match="larger than"):
        read_diary(DIARY, Protocol.load(PROTOCOL), max_bytes=100)
    with pytest.raises(ProtocolError, match="larger than"):
        Protocol.load(PROTOCOL, max_bytes=100)


def test_deeply_nested_toml_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "nested.toml"
    path.write_text(EXAMPLE_TEXT + "\n[extra]\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    line = one_line_exit_2(run("check", str(path)))
    assert "nested 5000 deep" in line and "at most 20" in line
    lines = EXAMPLE_TEXT.count("\n") + 3
    assert f"line {lines}:" in line
    # brackets inside strings and comments do not count
    text = EXAMPLE_TEXT.replace('id = "KRATOM-FM-001"', 'id = "KRATOM-' + "[" * 30 + '" # {{{{')
    assert Protocol.loads(text + "\n# " + "[" * 40 + "\n").trial.id.count("[") == 30


def test_protocol_columns_are_checked_in_linear_time(tmp_path):
    columns = ", ".join(f'"c{i}"' for i in range(100_000))
    path = example_with(tmp_path, 'columns = ["dose_g", "withdrawal", "adverse_event", "notes"]',
                        f"columns = [{columns}]")  # fmt: skip
    start = time.perf_counter()
    result = run("check", path)
    assert time.perf_counter() - start < 10
    assert result.exit_code == 2 and "diary.columns: 100000 names; at most 100" in result.stderr
    doc = protocol_dict(diary={"columns": ["dose_g", "notes", "dose_g"]})
    assert any("'dose_g' is listed twice" in p for p in problems_of(doc))


def test_a_diary_with_20000_columns_is_read_without_a_pandas_warning(tmp_path):
    header = "date,pain,fatigue," + ",".join(f"x{i}" for i in range(20_000))
    rows = [f"2026-01-{d:02d},3,4," + ",".join("1" for _ in range(20_000)) for d in (5, 6, 7)]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a PerformanceWarning would fail here
        diary = read_diary(path, Protocol.load(PROTOCOL))
    assert diary.days.shape[1] > 20_000 and diary.days["x19999"].iloc[0] == 1.0
    assert any("x0, x1" in n and "and 19980 more" in n for n in diary.notes)


# -- power and design settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"sims": 1_000_000_000}, "sims = 1000000000"),
        ({"sims": 1}, "sims = 1 must be a whole number from 100"),
        ({"effect": 1e308}, "effect = 1e+308"),
        ({"effect": math.inf}, "effect = inf"),
        ({"sd": 1e308}, "sd = 1e+308"),
        ({"sd": 1e-300}, "sd = 1e-300"),
        ({"trend": 1e300}, "trend = 1e+300"),
        ({"carryover_days": 1e300}, "carryover_days"),
    ],
)
def test_power_settings_out_of_range_are_refused_first(example_protocol, options, words):
    settings = {"effect": -1.0, "sd": 1.5, "sims": 200, **options}
    start = time.perf_counter()
    with pytest.raises(PlanningError, match=re.escape(words)):
        power(example_protocol, **settings)
    design_settings = {k: v for k, v in settings.items() if k in ("effect", "sd", "sims")}
    if len(design_settings) == 3 and options.keys() <= design_settings.keys():
        with pytest.raises(PlanningError, match=re.escape(words)):
            compare_designs(example_protocol, cycles="4", period_days="14", **design_settings)
    assert time.perf_counter() - start < 2  # refused before anything is simulated


def test_power_with_settings_at_the_bounds_warns_nothing(example_protocol):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning may reach the user
        for effect, sd in ((10.0, 1e-5), (-10.0, 10.0)):
            r = power(example_protocol, effect=effect, sd=sd, sims=100, methods=("paired-t",))
            assert 0 <= r.power <= 1


def test_power_cli_errors_are_one_line(tmp_path):
    for args in (["--sims", "1"], ["--sims", "1000000000"], ["--effect", "1e308"]):
        base = {"--effect": "-1", "--sd": "1.5"}
        base.update(dict(zip(args[::2], args[1::2], strict=True)))
        flat = [x for pair in base.items() for x in pair]
        line = one_line_exit_2(run("power", PROTOCOL, *flat))
        assert "must be" in line


def test_power_and_design_json_differ_between_runs_only_in_seconds(example_protocol):
    kwargs = {"effect": -1.0, "sd": 1.5, "sims": 100, "methods": ("paired-t",)}
    a, b = (power(example_protocol, **kwargs).to_dict() for _ in range(2))
    assert {k for k in a if a[k] != b[k]} <= {"seconds"}
    kwargs = {"effect": -1.0, "sd": 1.5, "sims": 100, "cycles": "4", "period_days": "14"}
    a, b = (compare_designs(example_protocol, **kwargs).to_dict() for _ in range(2))
    assert {k for k in a if a[k] != b[k]} <= {"seconds"}
    assert "seconds" in (ROOT / "docs" / "json.md").read_text(encoding="utf-8")


def test_design_compares_only_designs_check_accepts(example_protocol):
    # the example: washout 3, min_days_per_period 6; a 7-day period has 4 counted days
    c = compare_designs(example_protocol, cycles="4,5", period_days="7,14", effect=-1.0, sd=1.5,
                        sims=100)  # fmt: skip
    assert {(r["cycles"], r["period_days"]) for r in c.rows} == {(4, 14), (5, 14)}
    assert [(s["cycles"], s["period_days"]) for s in c.skipped] == [(4, 7), (5, 7)]
    assert all("analysis.min_days_per_period" in s["reason"] for s in c.skipped)
    text = c.render_text()
    assert "Not compared, because nof1 check would refuse" in text and "4 x 7 days" in text
    assert c.to_dict()["skipped"][0]["period_days"] == 7
    for row in c.rows:  # every design listed passes check as it stands
        design = dataclasses.replace(
            example_protocol.design, cycles=row["cycles"], period_days=row["period_days"]
        )
        Protocol.from_dict(dataclasses.replace(example_protocol, design=design).to_dict())
        assert row["min_days_per_period"] == example_protocol.analysis.min_days_per_period


def test_design_plot_with_an_unknown_extension_fails_before_simulating(tmp_path):
    start = time.perf_counter()
    line = one_line_exit_2(
        run("design", PROTOCOL, "--effect", "-1", "--sd", "1.5", "--plot", str(tmp_path / "x.txt"))
    )
    assert ".png or .svg or .pdf" in line and time.perf_counter() - start < 5
    assert not (tmp_path / "x.txt").exists()


# -- formula injection ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)",
                                  "-2+3", "pain score", "päin", "x" * 65])  # fmt: skip
def test_column_and_outcome_names_must_be_plain(name):
    problems = problems_of(protocol_dict(diary={"columns": ["dose_g", "notes", name]}))
    assert any(p.startswith("diary.columns: the name") for p in problems), problems
    outcome = {"name": name, "min": 0, "max": 10, "better": "lower", "mcid": 1}
    problems = problems_of(protocol_dict(outcomes=[outcome], stop_rules=[]))
    assert any(p.startswith("outcomes[1].name: the name") for p in problems), problems


def test_template_of_an_injection_protocol_is_refused_and_writes_nothing(tmp_path):
    path = example_with(tmp_path, 'columns = ["dose_g"', 'columns = ["=HYPERLINK(1)", "dose_g"')
    out = tmp_path / "diary.csv"
    line = one_line_exit_2(run("template", path, "--out", str(out)))
    assert "diary.columns" in line and not out.exists()


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+cmd|x", "'+cmd|x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("-", "'-"),
        ("-1.5", "-1.5"),  # a negative number is data
        ("+2e3", "+2e3"),
        (-1.5, -1.5),
        ("pain", "pain"),
        ("run-in", "run-in"),
        ("", ""),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_neutralised(cell, written):
    assert safe_cell(cell) == written


def test_every_csv_nof1_writes_goes_through_the_rule(tmp_path, monkeypatch):
    # a trial whose text reaches the CSV: the arm names are fixed words, so feed the writer a
    # schedule frame with a hostile cell and read back what was written
    import nof1.trial.schedule as schedule_module

    protocol = Protocol.load(PROTOCOL)
    original = schedule_module.Schedule.to_frame

    def hostile(self):
        frame = original(self)
        frame.loc[0, "phase"] = "=cmd()"
        return frame

    monkeypatch.setattr(schedule_module.Schedule, "to_frame", hostile)
    rows = list(csv.reader(io.StringIO(protocol.schedule().to_csv())))
    assert rows[1][2] == "'=cmd()"
    out = tmp_path / "schedule.csv"
    assert run("schedule", PROTOCOL, "--out", str(out)).exit_code == 0
    assert "'=cmd()" in out.read_text(encoding="utf-8")
    monkeypatch.undo()
    # an ordinary schedule is written exactly as pandas writes it
    frame = protocol.schedule().to_frame()
    frame["washout"] = frame["washout"].map({True: "true", False: "false"})
    assert protocol.schedule().to_csv() == frame.to_csv(index=False, lineterminator="\n")


def test_the_template_writer_uses_the_shared_rule(tmp_path, monkeypatch):
    import nof1.diary.template as template_module

    protocol = Protocol.load(PROTOCOL)
    protocol = dataclasses.replace(protocol, diary_columns=("=cmd()", *protocol.diary_columns))
    out = tmp_path / "template.csv"
    template_module.write_template(protocol, out)
    header = next(csv.reader(out.open(encoding="utf-8")))
    assert "'=cmd()" in header and "=cmd()" not in header


# -- rough edges of check and the CLI -------------------------------------------------------------


BAD_DIARY = """date,pain,fatigue
2026-01-12,3,4
2026-01-13,x,4
2026-13-01,3,4
2026-01-15,11,4
2026-01-12,3,4
2026-01-17,3
2026-01-18,3,yy
"""


def test_check_lists_every_diary_problem(tmp_path):
    path = tmp_path / "diary.csv"
    path.write_text(BAD_DIARY, encoding="utf-8")
    result = run("check", PROTOCOL, str(path))
    assert result.exit_code == 2
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith("problem:")]
    lines = [int(re.search(r"line (\d+)", p).group(1)) for p in problems]
    assert lines == [3, 4, 5, 6, 7, 8], problems
    assert "'x' is not a number; 'pain' is an outcome" in problems[0]


def test_check_stops_after_50_diary_problems(tmp_path):
    rows = [f"2026-02-{d:02d},bad,4" for d in range(1, 29)] + [
        f"2026-03-{d:02d},bad,4" for d in range(1, 31)
    ]
    path = tmp_path / "diary.csv"
    path.write_text("date,pain,fatigue\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = check_files(PROTOCOL, path)
    assert not report.ok and len(report.problems) == 51
    assert "stopped after 50 problems" in report.problems[-1]


def test_check_files_is_the_library_behind_check(tmp_path):
    report = check_files(PROTOCOL, DIARY)
    assert isinstance(report, CheckReport) and report.ok and report.problems == ()
    assert set(report.to_dict()) == {"ok", "problems", "warnings"}
    result = run("check", PROTOCOL, DIARY, "--json")
    assert json.loads(result.stdout) == report.to_dict()
    bad = check_files(example_with(tmp_path, "cycles = 4 ", "cycles = 0 "))
    assert not bad.ok and any("design.cycles" in p for p in bad.problems)
    assert dataclasses.is_dataclass(bad) and bad.to_dict()["ok"] is False


def test_a_toml_syntax_error_quotes_the_line(tmp_path):
    path = example_with(tmp_path, "period_days = 14", "period_days = = 14")
    line = one_line_exit_2(run("schedule", path))
    assert "line 17, column 15" in line and "in: period_days = = 14" in line


@pytest.mark.parametrize("value", ["15/10/2026", "15.10.2026", "2026-1-5", '"15/10/2026"'])
def test_a_non_iso_date_in_the_protocol_says_how_dates_are_written(tmp_path, value):
    path = example_with(tmp_path, "start = 2026-01-05", f"start = {value}")
    line = one_line_exit_2(run("check", path))
    assert "dates are written 2026-10-15" in line


def test_json_errors_are_one_json_document_on_stdout(tmp_path):
    diary = tmp_path / "diary.csv"
    diary.write_text("date,pain,fatigue\n2026-01-12,x,4\n", encoding="utf-8")
    result = run("analyze", PROTOCOL, str(diary), "--json")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    document = json.loads(result.stdout)
    assert document == {
        "error": result.stderr.strip().removeprefix("nof1: "),
        "file": str(diary),
        "line": 2,
        "column": "pain",
    }
    syntax = example_with(tmp_path, "period_days = 14", "period_days = = 14", "p.toml")
    document = json.loads(run("monitor", syntax, DIARY, "--json").stdout)
    assert (document["file"], document["line"], document["column"]) == (syntax, 17, 15)
    document = json.loads(run("power", PROTOCOL, "--effect", "1e308", "--sd", "1", "--json").stdout)
    assert document["file"] is None and "effect" in document["error"]


def test_report_must_be_html(tmp_path):
    out = tmp_path / "report.pdf"
    line = one_line_exit_2(run("analyze", PROTOCOL, DIARY, "--report", str(out)))
    assert ".html or .htm" in line and not out.exists()
    ok = run("analyze", PROTOCOL, DIARY, "--report", str(tmp_path / "report.HTM"))
    html = (tmp_path / "report.HTM").read_text(encoding="utf-8")
    assert ok.exit_code == 0 and html.startswith("<!")
    assert "P = &gt;" not in html and "P = &lt;" not in html and "P = >" not in ok.stdout


def test_messages_read_right(tmp_path):
    doc = protocol_dict()
    path = tmp_path / "protocol.toml"
    path.write_text(protocol_toml(doc), encoding="utf-8")
    diary = tmp_path / "diary.csv"
    diary.write_text("date,pain,fatigue,dose_g,notes\n2026-01-05,3,3,lots,\n", encoding="utf-8")
    line = one_line_exit_2(run("analyze", str(path), str(diary)))
    assert "is a column compared with a number" in line and "an column" not in line
    from nof1.format import fmt_prob

    assert [fmt_prob(p) for p in (0.999, 0.81, 0.001)] == ["P > 99%", "P = 81%", "P < 1%"]


def test_one_numbering_style_for_outcomes_and_stop_rules():
    doc = protocol_dict(
        outcomes=[{"name": "pain", "min": 0, "max": 10, "better": "lower", "mcid": 1, "x": 1}],
        stop_rules=[{"name": "A", "column": "pain", "at_lest": 9, "action": "stop"}],
    )
    problems = problems_of(doc)
    assert all("#" not in p for p in problems), problems
    assert any(p.startswith("outcomes[1] (pain): unknown key 'x'") for p in problems)
    assert any(p.startswith("stop_rules[1] (A): unknown key 'at_lest'") for p in problems)


def test_docs_and_help_never_point_to_the_internal_spec():
    found = []
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs").rglob("*.md")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "SPEC" in line:
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert not found
    for command in ("", "check", "analyze", "monitor", "power", "design", "schedule", "template"):
        help_text = run(*command.split(), "--help").output
        assert "SPEC" not in help_text and "Usage" in help_text


def test_to_frame_keeps_nap_out_of_the_effect_column(example):
    frame = example.to_frame()
    nap = frame[frame["method"] == "nap"]
    assert nap["estimate"].isna().all() and not nap["nap"].isna().any()
    assert list(nap["nap"]) == [example.outcomes[n].nap for n in nap["outcome"]]
    assert frame.loc[frame["method"] != "nap", "nap"].isna().all()


def test_analysis_methods_have_docstrings_and_a_short_repr(example):
    from nof1.analysis.analyze import Analysis

    for name in ("to_frame", "to_dict", "_repr_html_"):
        assert (getattr(Analysis, name).__doc__ or "").strip(), name
    assert len(repr(example)) < 500 and "KRATOM-FM-001" in repr(example)
    assert len(repr(example.primary)) < 500


def test_a_protocol_without_stop_rules(tmp_path):
    path = tmp_path / "no_rules.toml"
    path.write_text(EXAMPLE_TEXT.split("[[stop_rules]]")[0], encoding="utf-8")
    result = run("monitor", str(path), DIARY)
    assert result.exit_code == 0 and "no stop rules" in result.stdout
    report = check_files(path)
    assert report.ok and any("no stop rules" in w for w in report.warnings)


def test_timeline_legend_shows_long_arm_names_whole(tmp_path):
    long = "low-dose naltrexone 4.5 mg at bedtime, titrated up from 1.5 mg over two weeks"
    path = example_with(tmp_path, 'treatment = "kratom leaf powder, 2 g twice daily"',
                        f'treatment = "{long}"')  # fmt: skip
    from nof1.analysis.analyze import analyze
    from nof1.report.plots import plot_timeline

    protocol = Protocol.load(path)
    ax = plot_timeline(analyze(protocol, read_diary(DIARY, protocol)), "pain", events=[])
    legend = [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]
    assert f"treatment: {long}" in legend


# -- every protocol example in the docs passes check ---------------------------------------------


def _toml_blocks() -> list[pytest.param]:
    blocks = []
    for path in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]):
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        earlier: list[str] = []  # a page's fragments build up one protocol, in order
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", text, flags=re.S)):
            if re.search(r"^\[series\]", block, flags=re.M):
                continue  # a series file, not a protocol (tests/test_series.py loads those)
            blocks.append(pytest.param(block, tuple(earlier), id=f"{path.name}-{i}"))
            if "[trial]" not in block:
                earlier.append(block)
    return blocks


def test_the_docs_hold_protocol_examples():
    assert len(_toml_blocks()) >= 1


def _with_fragment(block: str, earlier: tuple[str, ...] = ()) -> str:
    """A fragment joins the example: its tables update the example's, its arrays extend them
    (an entry named like one of the example's updates that one)."""
    import tomli_w

    doc = tomllib.loads(EXAMPLE_TEXT)
    for fragment in [*(tomllib.loads(b) for b in earlier), tomllib.loads(block)]:
        _join(doc, fragment)
    return tomli_w.dumps(doc)


def _join(doc: dict, fragment: dict) -> None:
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            if "columns" in value:  # the fragment's own columns join the example's
                value = dict(value, columns=[*doc[key].get("columns", []), *value["columns"]])
                value["columns"] = list(dict.fromkeys(value["columns"]))
            doc[key].update(value)
        elif isinstance(value, list) and isinstance(doc.get(key), list):
            named = {entry.get("name"): entry for entry in doc[key]}
            for entry in value:  # an entry of the same name (an outcome) updates it
                if entry.get("name") in named:
                    named[entry["name"]].update(entry)
                else:
                    doc[key].append(entry)
        else:
            doc[key] = value


@pytest.mark.parametrize(("block", "earlier"), _toml_blocks())
def test_every_protocol_example_in_the_docs_passes_check(tmp_path, block, earlier):
    text = block if "[trial]" in block else _with_fragment(block, earlier)
    path = tmp_path / "example.toml"
    path.write_text(text, encoding="utf-8")
    report = check_files(path)
    assert report.ok, report.problems


def test_the_init_example_passes_check(tmp_path):
    out = tmp_path / "trial.toml"
    assert run("init", str(out)).exit_code == 0
    assert check_files(out).ok


# -- the worst cases in subprocesses, under a memory and a time limit -----------------------------


def _limited() -> None:  # pragma: no cover - runs in the child
    two_gb = 2_000_000 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (two_gb, two_gb))


@pytest.mark.slow
def test_worst_cases_end_in_exit_2_within_seconds_and_2_gb(tmp_path):
    nested = tmp_path / "nested.toml"
    nested.write_text(EXAMPLE_TEXT + "\nx = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    cases = [
        ["check", example_with(tmp_path, "run_in_days = 7", "run_in_days = 1000000000", "a.toml")],
        ["check", example_with(tmp_path, "cycles = 4 ", "cycles = 500 ", "b.toml")],
        ["schedule", example_with(tmp_path, "period_days = 14", "period_days = 1000000", "c.toml")],
        ["check", str(nested)],
        ["check", PROTOCOL, "/dev/zero"],
        ["check", "/dev/urandom"],
        ["power", PROTOCOL, "--effect", "-1", "--sd", "1.5", "--sims", "1000000000"],
    ]
    for args in cases:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "nof1", *args],
            capture_output=True,
            text=True,
            timeout=20,
            preexec_fn=_limited,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
        assert time.perf_counter() - start < 20
