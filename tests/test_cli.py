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
