"""The command line: exit codes, one-line errors naming file and line, JSON, instant --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nof1.cli import cli
from nof1.example import example_paths

PROTOCOL, DIARY = (str(p) for p in example_paths())
HEADER = "date,pain,fatigue,dose_g,withdrawal,adverse_event,notes\n"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "diary.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ("2026-01-12,5,5,,,,\n2026-13-01,5,5,,,,\n", 3, "date"),  # a date that does not parse
        ("2026-01-12,5,5,,,,\n2026-01-12,4,4,,,,\n", 3, "date"),  # the same date twice
        ("2026-01-12,11,5,,,,\n", 2, "pain"),  # outside [0, 10]
        ("2026-01-12,5,lots,,,,\n", 2, "fatigue"),  # text in a numeric column
        ("2026-01-12,5,5,,,\n", 2, None),  # a field short
    ],
)
def test_malformed_diary_exits_2_naming_line(tmp_path, body, line, column):
    path = write(tmp_path, HEADER + body)
    result = run("analyze", PROTOCOL, path)
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"{path}, line {line}" in message
    if column:
        assert f"column {column!r}" in message


def test_missing_outcome_column_empty_file_and_header_only(tmp_path):
    missing = write(tmp_path, "date,pain\n2026-01-12,5\n", "a.csv")
    empty = write(tmp_path, "", "b.csv")
    header_only = write(tmp_path, HEADER, "c.csv")
    result = run("analyze", PROTOCOL, missing)
    assert result.exit_code == 2 and "line 1, column 'fatigue'" in result.stderr
    result = run("analyze", PROTOCOL, empty)
    assert result.exit_code == 2 and "empty" in result.stderr
    result = run("analyze", PROTOCOL, header_only)
    assert result.exit_code == 2 and "no data rows" in result.stderr
    # monitor accepts a diary with no rows yet
    result = run("monitor", PROTOCOL, header_only, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "continue"


def test_bad_protocol_lists_every_problem(tmp_path):
    path = write(
        tmp_path,
        '[trial]\nid = "x"\nstart = 2026-01-01\n[design]\nscheme = "zigzag"\ncycles = 0\n'
        'period_days = 7\nwashout_days = 7\n[[outcomes]]\nname = "pain"\nmin = 10\nmax = 0\n'
        'better = "lower"\nmcid = 1\n',
        "p.toml",
    )
    result = run("check", path)
    assert result.exit_code == 2
    for key in ("design.scheme", "design.cycles", "design.washout_days", "min = 10"):
        assert key in result.stderr
    toml_error = write(tmp_path, '[trial]\nid = "x"\nid = "y"\n', "q.toml")
    result = run("check", toml_error)
    assert result.exit_code == 2 and "line 3" in result.stderr


def test_missing_file_is_one_line(tmp_path):
    result = run("analyze", str(tmp_path / "nope.toml"), DIARY)
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr and "Traceback" not in result.stderr


def test_schedule_csv_and_json(tmp_path):
    result = run("schedule", PROTOCOL)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "day,date,phase,cycle,period,arm,washout"
    assert len(lines) == 1 + 7 + 4 * 2 * 14
    assert lines[1] == "1,2026-01-05,run-in,0,0,run-in,false"
    document = json.loads(run("schedule", PROTOCOL, "--json").stdout)
    assert document["allocations_admitted"] == 16 and len(document["days"]) == 119


def test_template_blinded_hides_arm(tmp_path):
    text = Path(PROTOCOL).read_text().replace('blinding = "open"', 'blinding = "double"')
    blinded = write(tmp_path, text, "blind.toml")
    out = tmp_path / "t.csv"
    assert run("template", blinded, "--out", str(out)).exit_code == 0
    content = out.read_text()
    assert "treatment" not in content and "control" not in content
    assert content.splitlines()[0].endswith(",day")
    assert run("template", PROTOCOL, "--out", str(out)).exit_code == 2  # exists: no overwrite


def test_init_writes_a_protocol_that_checks(tmp_path):
    path = str(tmp_path / "trial.toml")
    assert run("init", path).exit_code == 0
    assert run("check", path).exit_code == 0


def test_analyze_json_has_spec_keys():
    result = run("analyze", PROTOCOL, DIARY, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) >= {"nof1_version", "protocol", "diary", "outcomes"}
    assert set(doc["protocol"]) >= {"id", "sha256", "schedule_fingerprint"}
    assert set(doc["diary"]) >= {"sha256", "rows_read", "rows_used", "excluded"}
    pain = doc["outcomes"]["pain"]
    for key in (
        "primary",
        "better",
        "mcid",
        "cycles_used",
        "effect",
        "periods",
        "paired_t",
        "wilcoxon",
        "randomization",
        "ar1",
        "bayes",
        "nap",
        "holm_p",
        "verdict",
    ):
        assert key in pain
    assert set(pain["paired_t"]) >= {"estimate", "ci95", "t", "df", "p_two_sided", "p_improvement"}
    assert set(pain["randomization"]) >= {
        "p_two_sided",
        "p_improvement",
        "allocations",
        "min_p",
        "exact",
    }


def test_help_is_instant_and_imports_nothing_heavy():
    code = (
        "import sys; from nof1.cli import cli; import nof1; "
        "heavy = ('pandas', 'statsmodels', 'matplotlib', 'scipy'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_run = subprocess.run(
        [sys.executable, "-m", "nof1", "--help"], capture_output=True, text=True, check=True
    )
    assert "analyze" in help_run.stdout and "monitor" in help_run.stdout


def test_monitor_exit_codes_and_first_days_on_the_example(tmp_path):
    # the example diary is built to fire exactly these two review rules (examples/make_example.py)
    result = run("monitor", PROTOCOL, DIARY, "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["status"] == "review"
    fired = [(e["rule"], e["date"]) for e in doc["events"]]
    assert fired == [("Dose above plan", "2026-03-22"), ("Withdrawal off treatment", "2026-03-25")]
    assert doc["events"][1]["values"] == {"2026-03-24": 16.0, "2026-03-25": 14.0}
    # before the first event: continue
    assert run("monitor", PROTOCOL, DIARY, "--as-of", "2026-03-21").exit_code == 0
    # a serious adverse event is a stop
    lines = Path(DIARY).read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("2026-02-02,"))
    cells = lines[i].split(",")
    cells[5] = "serious"
    lines[i] = ",".join(cells)
    stop = write(tmp_path, "\n".join(lines) + "\n", "stop.csv")
    result = run("monitor", PROTOCOL, stop, "--json")
    assert result.exit_code == 4
    events = json.loads(result.stdout)["events"]
    assert ("Serious adverse event", "2026-02-02") in [(e["rule"], e["date"]) for e in events]


def test_monitor_catches_a_diary_that_stopped_arriving(tmp_path):
    lines = Path(DIARY).read_text().splitlines()
    kept = [line for line in lines if line[:10] <= "2026-02-20" or line.startswith("date")]
    short = write(tmp_path, "\n".join(kept) + "\n", "short.csv")
    assert run("monitor", PROTOCOL, short).exit_code == 0
    result = run("monitor", PROTOCOL, short, "--as-of", "2026-02-24", "--json")
    assert result.exit_code == 3
    event = json.loads(result.stdout)["events"][0]
    # missing_days = 3: scheduled days 02-21, 02-22, 02-23 without a row; fires on the third
    assert (event["rule"], event["date"]) == ("Diary not kept", "2026-02-23")


def test_monitor_log_only_appends_and_fails_loudly(tmp_path):
    log = tmp_path / "audit.jsonl"
    for _ in range(2):
        assert run("monitor", PROTOCOL, DIARY, "--log", str(log)).exit_code == 3
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == 2 and all(e["status"] == "review" for e in entries)
    assert entries[0]["diary_sha256"] == entries[1]["diary_sha256"]
    result = run("monitor", PROTOCOL, DIARY, "--log", str(tmp_path / "no" / "dir" / "log"))
    # the verdict is never hidden by a log that cannot be written: REVIEW keeps its exit code 3
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    assert result.stdout.startswith("REVIEW") and "NOT logged" in result.stderr
    assert run("verify-log", str(log)).exit_code == 0


def test_awkward_diary_through_the_cli_matches_the_plain_one(tmp_path):
    plain = json.loads(run("analyze", PROTOCOL, DIARY, "--json").stdout)
    text = Path(DIARY).read_text(encoding="utf-8")
    rows = text.splitlines()
    header, body = rows[0], rows[1:][::-1]  # rows in reverse order
    semi = [header.replace(",", ";")]
    for row in body:
        cells = next(__import__("csv").reader([row]))
        semi.append(";".join(cells))
    awkward = tmp_path / "awkward.csv"
    awkward.write_bytes(("\ufeff" + "\r\n".join(semi) + "\r\n").encode("utf-8"))
    doc = json.loads(run("analyze", PROTOCOL, str(awkward), "--json").stdout)
    for name in ("pain", "fatigue"):
        assert doc["outcomes"][name]["paired_t"] == plain["outcomes"][name]["paired_t"]
    assert doc["diary"]["rows_read"] == plain["diary"]["rows_read"]


def test_the_readme_series_command_runs_on_what_nof1_demo_writes(tmp_path, monkeypatch):
    # Issue 20: the README said `nof1 series series.toml` without saying where that file is;
    # run as written after `nof1 demo`, in the same folder, it must find the demo's series.
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^nof1 series .*?(?=\s+#|$)", readme, flags=re.M).group(0)
    args = shlex.split(line)[1:]
    monkeypatch.chdir(tmp_path)
    demo = CliRunner().invoke(cli, ["demo"])
    assert demo.exit_code == 0, demo.output
    # the demo's power line names the default autocorrelation it assumed (issue 20, item 1)
    assert "autocorrelation 0.4) is detected" in demo.output
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "series.html").stat().st_size > 1000
