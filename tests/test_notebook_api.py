"""The Python API a notebook user meets: tidy tables, one name per method, summaries, series from
DataFrames, DataFrames with the date as index, plotting onto one's own Axes."""

from __future__ import annotations

import json
import math
import re

import pytest

from nof1 import Protocol, analyze
from nof1.analysis.summary import render_text
from nof1.diary.read import read_diary_text
from nof1.report.clinician import render_html


def _text_methods(text: str) -> dict[str, list[str]]:
    """The method column of every outcome's table in the text summary, read off the text."""
    out: dict[str, list[str]] = {}
    outcome, rows = None, None
    for line in text.splitlines():
        head = re.match(r"== (.+) \((?:primary|secondary)\) ==", line)  # the outcome's label
        if head:
            outcome = head.group(1)
        elif line.startswith("  method ") and outcome:
            rows = out.setdefault(outcome, [])
        elif rows is not None and line.startswith("  ") and line.strip():
            rows.append(line.split()[0])
        else:
            rows = None if not line.strip() else rows
    return out


def test_frame_has_each_rows_actual_interval_level(example):
    frame = example.to_frame().set_index(["outcome", "method"])
    assert "level" in frame.columns
    # 4 cycle differences: the exact Wilcoxon null puts 1/16 on W+ = 0 and 1/16 on W+ = 10, so
    # the widest interval (smallest to largest Walsh average) has 1 - 2/16 = 87.5% confidence
    assert frame.loc[("pain", "wilcoxon"), "level"] == pytest.approx(1 - 2 / 2**4)
    assert frame.loc[("fatigue", "wilcoxon"), "level"] == pytest.approx(0.875)
    for method in ("paired-t", "ar1-reml-t", "bayes"):  # alpha = 0.05
        assert frame.loc[("pain", method), "level"] == pytest.approx(0.95)
    assert math.isnan(frame.loc[("pain", "randomization"), "level"])  # no interval
    assert math.isnan(frame.loc[("pain", "nap"), "level"])


def test_frame_level_follows_alpha():
    protocol = Protocol.loads(_protocol_text(cycles=2, extra="[analysis]\nalpha = 0.10\n"))
    values = [9, 8, 9, 8, 9, 8, 9, 6, 5, 6, 5, 6, 5, 6, 8, 8, 9, 8, 9, 8, 8, 6, 6, 5, 6, 6, 5, 7]
    result = analyze(protocol, read_diary_text(_diary_text(values), protocol))
    frame = result.to_frame().set_index("method")
    assert frame.loc["paired-t", "level"] == pytest.approx(0.90)  # 1 - alpha
    # 2 cycle differences: no Wilcoxon interval reaches 90%; the widest has 1 - 2/4 = 50%
    assert frame.loc["wilcoxon", "level"] == pytest.approx(0.5)


def _protocol_text(scheme="randomized-pairs", cycles=3, extra=""):
    return (
        '[trial]\nid = "N"\nstart = 2026-03-02\n'
        f'[design]\nscheme = "{scheme}"\ncycles = {cycles}\nperiod_days = 7\n'
        f'run_in_days = 0\nwashout_days = 0\nsequence = "{"CT" * cycles}"\n'
        '[[outcomes]]\nname = "y"\nmin = 0\nmax = 20\nbetter = "lower"\nmcid = 1\n' + extra
    )


def _diary_text(values):
    import datetime as dt

    start = dt.date(2026, 3, 2)
    rows = [f"{start + dt.timedelta(days=i)},{v}" for i, v in enumerate(values)]
    return "date,y\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("scheme", ["randomized-pairs", "random"])
def test_frame_text_html_and_json_call_each_method_the_same(scheme, example):
    if scheme == "random":
        protocol = Protocol.loads(_protocol_text("random"))
        values = [
            9,
            8,
            9,
            8,
            9,
            8,
            9,
            6,
            5,
            6,
            5,
            6,
            5,
            6,
            8,
            9,
            8,
            7,
            8,
            9,
            8,
            5,
            6,
            5,
            4,
            5,
            6,
            5,
        ]
        result = analyze(protocol, read_diary_text(_diary_text(values), protocol))
        first = ["welch-t", "mann-whitney"]  # the two-sample tests that ran, named as such
    else:
        result = example
        first = ["paired-t", "wilcoxon"]
    frame = result.to_frame()
    text = _text_methods(render_text(result))
    page = render_html(result)
    doc = result.to_dict()["outcomes"]
    for name, outcome in result.outcomes.items():
        names = list(frame.loc[frame.outcome == name, "method"])
        assert names[:2] == first
        assert names == text[outcome.label]  # the text table, row for row
        assert names == [*first, "randomization", "ar1-reml-t", "bayes", "nap"]
        assert "ar1-ml-wald" not in page  # the ML fit is in the JSON only
        assert doc[name]["ar1_ml"]["method"] == "ar1-ml-wald"
        for method in names:
            assert f"<td>{method}</td>" in page
        labels = [doc[name][k]["method"] for k in ("paired_t", "wilcoxon", "randomization")]
        labels += [doc[name]["ar1"]["method"]]
        labels += [doc[name]["bayes"]["method"]] if outcome.bayes.reason is None else []
        assert labels == names[: len(labels)]
    json.dumps(doc, allow_nan=False)  # strict JSON still


def test_analysis_summary_is_the_text_report_and_prints_nothing(example, capsys):
    summary = example.summary()
    assert capsys.readouterr().out == ""
    assert isinstance(summary, str) and summary == render_text(example)
    assert repr(summary) == summary  # a notebook shows it laid out, not as a quoted string
    assert summary.as_text() == summary
    lines = str(summary).splitlines()
    assert lines[0].startswith("safety: REVIEW")  # the stop-rule status comes first
    assert "nof1 analysis of KRATOM-FM-001 (patient P-001)" in lines


def test_render_text_stays_importable_where_the_changelog_names_it():
    from nof1.report import text

    assert text.render_text is render_text  # one renderer, in the analysis layer


def test_series_summary_is_its_text(capsys):
    from nof1 import Series, analyze_series
    from nof1.example import example_series_path

    result = analyze_series(Series.load(example_series_path()))
    summary = result.summary()
    assert capsys.readouterr().out == ""
    assert summary == result.render_text() and repr(summary) == summary
    assert "KRATOM-FM-SERIES" in summary


def _example_frame():
    import pandas as pd

    from nof1 import example_paths

    return Protocol.load(example_paths()[0]), pd.read_csv(example_paths()[1])


@pytest.mark.parametrize("as_datetime", [False, True])
def test_a_date_index_is_refused_with_reset_index_suggested(as_datetime):
    import pandas as pd

    from nof1 import DiaryError, read_diary

    protocol, frame = _example_frame()
    if as_datetime:
        frame["date"] = pd.to_datetime(frame["date"])
    with pytest.raises(DiaryError) as caught:
        read_diary(frame.set_index("date"), protocol)
    message = str(caught.value)
    assert caught.value.column == "date" and "\n" not in message
    assert "no 'date' column" in message and "frame.reset_index()" in message
    # and the advice works: the same frame with its index made a column reads as the CSV does
    diary = read_diary(frame.set_index("date").reset_index(), protocol)
    assert diary.rows_read == len(frame)


def test_an_unnamed_index_of_dates_gets_rename_axis_advice():
    import pandas as pd

    from nof1 import DiaryError, read_diary

    protocol, frame = _example_frame()
    dated = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("date"))).rename(None))
    with pytest.raises(DiaryError, match=r"rename_axis\('date'\)\.reset_index\(\)"):
        read_diary(dated, protocol)
    assert read_diary(dated.rename_axis("date").reset_index(), protocol).rows_read == len(frame)


# -- a series from DataFrames -------------------------------------------------------------------


@pytest.fixture(scope="module")
def series_frames():
    import pandas as pd

    from nof1.example import example_series_path

    folder = example_series_path().parent
    return folder, pd.read_csv(folder / "patients.csv"), pd.read_csv(folder / "diary.csv")


def test_series_from_frames_analyses_as_the_packaged_files(series_frames):
    from nof1 import Series, analyze_series
    from nof1.example import example_series_path

    folder, patients, diary = series_frames
    files = analyze_series(Series.load(example_series_path()))
    series = Series.from_frames(folder / "protocol.toml", patients, diary, id="KRATOM-FM-SERIES")
    assert series.form == "table" and [t.patient for t in series.trials] == list(patients.patient)
    frames = analyze_series(series)
    assert frames.to_dict() == files.to_dict()  # every number and word of `nof1 series --json`
    for name in files.outcomes:
        assert frames.to_frame(name).equals(files.to_frame(name))


def test_series_from_frames_takes_a_protocol_as_template(series_frames):
    from nof1 import Series, analyze_series
    from nof1.series.file import read_toml

    folder, patients, diary = series_frames
    raw, _ = read_toml(folder / "protocol.toml")
    # the template file leaves start and seed to the patients table; a Protocol needs them, and
    # the table's replace them
    raw["trial"]["start"], raw["design"]["seed"] = dt_date(2026, 1, 1), 1
    template = Protocol.from_dict(raw)
    by_object = analyze_series(Series.from_frames(template, patients, diary)).to_dict()
    by_path = analyze_series(Series.from_frames(folder / "protocol.toml", patients, diary))
    assert by_object == by_path.to_dict()


def dt_date(*args):
    import datetime as dt

    return dt.date(*args)


def _file_and_frame_errors(folder, tmp_path, patients, diary):
    """The error of Series.load on these tables written as files, and of Series.from_frames."""
    import shutil

    from nof1 import Series
    from nof1.errors import SeriesError

    copy = tmp_path / "series"
    shutil.copytree(folder, copy)
    patients.to_csv(copy / "patients.csv", index=False)
    diary.to_csv(copy / "diary.csv", index=False)
    errors = []
    for load in (
        lambda: Series.load(copy / "series.toml").check(),
        lambda: Series.from_frames(folder / "protocol.toml", patients, diary).check(),
    ):
        with pytest.raises(SeriesError) as caught:
            load()
        errors.append(str(caught.value))
    return errors


@pytest.mark.parametrize(
    "change, in_file, in_frame, rest",
    [
        # a diary cell: position 5 of the DataFrame is its row 6, line 7 of the CSV
        (
            lambda p, d: d.loc.__setitem__((5, "pain"), "lots"),
            "diary.csv, line 7, column 'pain'",
            "<diary DataFrame>, row 6, column 'pain'",
            ": 'lots' is not a number",
        ),
        (
            lambda p, d: d.loc.__setitem__((40, "pain"), 12),
            "diary.csv, line 42, column 'pain'",
            "<diary DataFrame>, row 41, column 'pain'",
            ": 12 is outside the scale of 'pain', [0, 10]",
        ),
        (
            lambda p, d: d.loc.__setitem__((9, "patient"), "X-9"),
            "diary.csv, line 11, column 'patient'",
            "<diary DataFrame>, row 10, column 'patient'",
            ": 'X-9' is not in the patients table",
        ),
        (
            lambda p, d: p.loc.__setitem__((3, "patient"), "P-01"),
            "patients.csv, line 5",
            "<patients DataFrame>, row 4",
            ": patient 'P-01' appears twice",
        ),
        (
            lambda p, d: p.loc.__setitem__((2, "start"), "2026-13-01"),
            "patients.csv, line 4, column 'start'",
            "<patients DataFrame>, row 3, column 'start'",
            ": '2026-13-01' is not a date YYYY-MM-DD",
        ),
    ],
)
def test_series_from_frames_refuses_what_the_files_refuse(
    series_frames, tmp_path, change, in_file, in_frame, rest
):
    folder, patients, diary = series_frames
    patients, diary = patients.astype(object), diary.astype(object)
    change(patients, diary)
    by_file, by_frame = _file_and_frame_errors(folder, tmp_path, patients, diary)
    assert in_file + rest in by_file  # the same message, the same place in each source's terms
    assert in_frame + rest in by_frame and "\n" not in by_frame


def test_series_from_frames_names_a_missing_or_index_column(series_frames):
    from nof1 import Series
    from nof1.errors import SeriesError

    folder, patients, diary = series_frames
    template = folder / "protocol.toml"
    with pytest.raises(SeriesError, match=r"^<patients DataFrame>: .* column\(s\) start$"):
        Series.from_frames(template, patients.drop(columns="start"), diary)
    with pytest.raises(SeriesError, match=r"^<diary DataFrame>, column 'patient': .*reset_index"):
        Series.from_frames(template, patients, diary.set_index(["patient", "date"]))
    with pytest.raises(SeriesError, match=r"^<patients DataFrame>, column 'patient'.*reset_index"):
        Series.from_frames(template, patients.set_index("patient"), diary)
    with pytest.raises(SeriesError, match="expected a pandas DataFrame"):
        Series.from_frames(template, patients, str(folder / "diary.csv"))


# -- the README's "From Python" section runs as written -----------------------------------------


def test_readme_from_python_runs_and_plots_onto_your_own_axes(capsys):
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")  # no window
    import matplotlib.pyplot as plt

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    try:
        for block in blocks:
            exec(block, namespace)  # the README's own code, in order
        ax, fig = namespace["ax"], namespace["fig"]
        assert ax.figure is fig and fig.axes == [ax]  # drawn on the reader's Axes, no new one
        assert ax.lines  # the cycles plot: one line per cycle joining its two period means
        again = namespace["plot"](namespace["result"], "pain", kind="timeline", ax=ax)
        assert again is ax  # and returns the Axes it drew on
        printed = capsys.readouterr().out  # print(result.summary())
        assert printed.startswith("safety: ") and "nof1 analysis of KRATOM-FM-001" in printed
    finally:
        plt.close("all")
