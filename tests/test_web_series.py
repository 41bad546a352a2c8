"""The web page's series view and ``/api/series``: a series folder uploaded as a zip.

The API's JSON is compared with ``nof1 series --json`` and ``nof1 monitor SERIES.toml --json`` run
on the same files; every refusal of an unsafe zip has its test.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("flask")

from conftest import DATA, EXAMPLE_DIARY, EXAMPLE_PROTOCOL
from nof1.cli import cli
from nof1.web import create_app
from test_web import field_values

SERIES = DATA / "series"


@pytest.fixture
def client():
    return create_app().test_client()


def zipped(files: dict[str, bytes], folder: str = "") -> bytes:
    """A zip of ``files`` (name -> content), inside ``folder`` when given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}" if folder else name, data)
    return buffer.getvalue()


def example_files(**changes: bytes) -> dict[str, bytes]:
    """The packaged example series (template, patients table, long diary), with ``changes``."""
    files = {p.name: p.read_bytes() for p in sorted(SERIES.iterdir()) if p.is_file()}
    return {**files, **changes}


def upload(data: bytes, name: str = "series.zip", **fields: str) -> dict:
    return {"series": (io.BytesIO(data), name), **fields}


def cli_json(monkeypatch, folder: Path, *args: str) -> dict:
    """``nof1 ARGS --json`` run in ``folder``, so file names in messages match the zip's."""
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    return json.loads(result.stdout)


# -- the API equals the command line's --json -----------------------------------------------------


@pytest.mark.parametrize("folder", ["", "KRATOM-series"])
def test_api_series_equals_nof1_series_json(client, monkeypatch, folder):
    response = client.post("/api/series", data=upload(zipped(example_files(), folder)))
    assert response.status_code == 200
    assert response.get_json() == cli_json(monkeypatch, SERIES, "series", "series.toml")


@pytest.mark.parametrize(
    ("fields", "args"), [({}, ()), ({"as_of": "2026-03-01"}, ("--as-of", "2026-03-01"))]
)
def test_api_monitor_of_a_series_equals_nof1_monitor_json(client, monkeypatch, fields, args):
    response = client.post("/api/monitor", data=upload(zipped(example_files()), **fields))
    assert response.status_code == 200
    expected = cli_json(monkeypatch, SERIES, "monitor", "series.toml", *args)
    assert response.get_json() == expected
    assert fields or expected["patients"][0]["patient"] == "P-03"


def trials_form(tmp_path: Path, rules_of_b: bool = True) -> dict[str, bytes]:
    """A [[trials]] series of two patients, each with the example protocol and diary (patient
    b's without its stop rules when ``rules_of_b`` is false)."""
    text = EXAMPLE_PROTOCOL.read_text(encoding="utf-8")
    files = {
        "series.toml": (
            b'[series]\nid = "TWO"\n\n'
            b'[[trials]]\nprotocol = "a/protocol.toml"\ndiary = "a/diary.csv"\n\n'
            b'[[trials]]\nprotocol = "b/protocol.toml"\ndiary = "b/diary.csv"\n'
        )
    }
    for who in ("a", "b"):
        patient = text.replace('patient = "P-001"', f'patient = "P-{who}"')
        if who == "b" and not rules_of_b:
            patient = patient[: patient.index("[[stop_rules]]")]
        files[f"{who}/protocol.toml"] = patient.encode("utf-8")
        files[f"{who}/diary.csv"] = EXAMPLE_DIARY.read_bytes()
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return files


def test_api_reads_the_trials_form_of_a_series(client, monkeypatch, tmp_path):
    data = zipped(trials_form(tmp_path), "two")
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 200
    assert response.get_json() == cli_json(monkeypatch, tmp_path, "series", "series.toml")
    response = client.post("/api/monitor", data=upload(data))
    assert response.get_json() == cli_json(monkeypatch, tmp_path, "monitor", "series.toml")


def bad_long_diary() -> bytes:
    lines = (SERIES / "diary.csv").read_text(encoding="utf-8").splitlines()
    patient, date, _pain, rest = lines[239].split(",", 3)  # line 240 of the file, patient P-03
    lines[239] = f"{patient},{date},11,{rest}"
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_bad_series_is_400_naming_patient_file_line_and_column(client):
    data = zipped(example_files(**{"diary.csv": bad_long_diary()}), "s")
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith("patient P-03: s/diary.csv, line 240, column 'pain': 11 is outside")
    assert "nof1-series" not in error and "/tmp" not in error
    # the triage still checks everybody else and says why P-03 was not
    triage = client.post("/api/monitor", data=upload(data)).get_json()
    p03 = next(p for p in triage["patients"] if p["patient"] == "P-03")
    assert p03["status"] == "not checked" and "s/diary.csv, line 240" in p03["reason"]


def test_a_series_file_that_cannot_be_read_is_400(client):
    data = zipped(example_files(**{"series.toml": b'[series]\nid = "X"\n'}))
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("series.toml: needs [[trials]]")


# -- the zip is refused when it could escape or explode -------------------------------------------


def raw_zip(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def special(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


SERIES_TOML = (SERIES / "series.toml").read_bytes()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("/etc/passwd", "an absolute path"),
        ("../outside.csv", "a path with '..'"),
        ("a/../../outside.csv", "a path with '..'"),
        ("C:/windows.csv", "an absolute path"),
        (special("link.csv", stat.S_IFLNK | 0o777), "a symbolic link"),
        (special("device", stat.S_IFCHR | 0o600), "a special file"),
        (special("fifo", stat.S_IFIFO | 0o600), "a special file"),
    ],
)
def test_a_member_that_could_escape_is_refused(client, member, message):
    data = raw_zip(("series.toml", SERIES_TOML), (member, b"/etc/passwd"))
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_too_many_members_are_refused(client):
    data = zipped({f"f{i}.txt": b"" for i in range(2001)} | {"series.toml": SERIES_TOML})
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 400
    assert "at most 2000" in response.get_json()["error"]


def test_a_zip_bomb_is_refused_with_413():
    client = create_app(max_upload_bytes=10_000).test_client()
    data = zipped({"series.toml": SERIES_TOML, "diary.csv": b"0" * 200_000})
    assert len(data) < 10_000
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 413
    assert "once unpacked" in response.get_json()["error"]


def test_bytes_are_counted_while_writing_not_only_from_the_directory(tmp_path):
    # zipfile itself stops at a member's declared size; counting what is written stops a zip
    # whose declared sizes were checked with a budget that the content then exceeds
    from nof1.web import series_zip

    bomb = zipped({"series.toml": SERIES_TOML, "diary.csv": b"0" * 200_000})
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        with pytest.raises(series_zip.ZipRefused) as caught:
            series_zip._extract(archive, archive.infolist(), tmp_path, 10_000, "bomb.zip")
    assert caught.value.status == 413


@pytest.mark.parametrize("member", ["d/part0.parquet", "d/part0", "d/part-0.bin"])
def test_a_parquet_member_is_bounded_whatever_its_name(member):
    # pyarrow reads every file of a dataset folder, whatever its extension: each is bounded
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    # an upload limit of 10,000 bytes unpacks to 10 x 10,000 = 100,000 bytes, so at most
    # 20,000,000 x 100,000 / 10^9 = 2,000 rows (the series bound scaled to the budget)
    client = create_app(max_upload_bytes=10_000).test_client()
    column = pa.DictionaryArray.from_arrays(pa.array([0] * 2_001, pa.int8()), pa.array(["x"]))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"patient": column}), buffer)
    toml = (SERIES / "series.toml").read_bytes().replace(b'"diary.csv"', b'"d"')
    files = {k: v for k, v in example_files(**{"series.toml": toml}).items() if k != "diary.csv"}
    data = zipped(files | {member: buffer.getvalue()})
    assert len(data) < 10_000
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"] == (
        f"series.zip: {member}: the Parquet file has 2,001 data rows, more than the 2,000 it "
        "may have; is it the right file?"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "not a zip file"),
        (zipped({"protocol.toml": b""}), "no series.toml"),
        (zipped({"a/series.toml": SERIES_TOML, "b/x.csv": b""}), "no series.toml"),
    ],
)
def test_not_a_series_zip_is_400(client, data, message):
    response = client.post("/api/series", data=upload(data))
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("path", ["../diary.csv", "/etc/passwd", "a/../../diary.csv"])
def test_paths_in_the_series_file_must_stay_inside_the_zip(client, path, monkeypatch):
    from nof1.series import Series

    def never(*args, **kwargs):
        raise AssertionError("the series was read although it names a file outside the zip")

    monkeypatch.setattr(Series, "load", never)
    text = SERIES_TOML.replace(b'diary = "diary.csv"', f'diary = "{path}"'.encode())
    response = client.post(
        "/api/monitor", data=upload(zipped(example_files(**{"series.toml": text})))
    )
    assert response.status_code == 400
    assert "lies outside the uploaded folder" in response.get_json()["error"]


def test_the_zip_is_unpacked_in_a_private_folder_removed_after(client, tmp_path, monkeypatch):
    import tempfile

    from nof1.web.series_zip import SeriesFolder

    seen = []
    real = SeriesFolder.path

    def spy(self):
        seen.append((self.root, stat.S_IMODE(os.stat(self.root).st_mode), self.root.exists()))
        return real(self)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(SeriesFolder, "path", spy)
    assert client.post("/api/series", data=upload(zipped(example_files()))).status_code == 200
    assert client.post("/api/series", data=upload(b"PK\x03\x04 broken")).status_code == 400
    ((root, mode, existed),) = seen
    assert existed and mode == 0o700 and root.parent == tmp_path
    assert list(tmp_path.iterdir()) == []


# -- the page -------------------------------------------------------------------------------------


def series_page(client, data: bytes, **fields: str) -> tuple[int, str]:
    csrf = field_values(client.get("/series").get_data(as_text=True))["csrf_token"]
    response = client.post("/series", data={**upload(data), "csrf_token": csrf, **fields})
    return response.status_code, response.get_data(as_text=True)


def test_the_series_page_lists_patients_needing_attention_first(client, monkeypatch, tmp_path):
    status, html = series_page(client, zipped(example_files(), "s"))
    assert status == 200
    assert 'id="status-word">STOP<' in html
    order = [html.index(f"<strong>{p}</strong>") for p in ("P-03", "P-01")]
    assert order == sorted(order)  # P-03 (stop) before P-01 (continue)
    triage = cli_json(monkeypatch, SERIES, "monitor", "series.toml")
    words = [p["status"].upper() for p in triage["patients"]]  # the library's words and order
    shown = [html[i + 2 : html.index("<", i + 2)] for i in _all(html, 'status">')]
    assert shown == words
    assert html.count('name="series_data"') == 1  # one form carries the upload, once
    hidden = {k: v for k, v in field_values(html).items() if k not in ("what", "patient")}

    report = client.post("/series/report", data=hidden)
    assert "'unsafe-inline'" in report.headers["Content-Security-Policy"]
    written = tmp_path / "series.html"
    CliRunner().invoke(cli, ["series", "series.toml", "--report", str(written)])
    assert report.get_data(as_text=True) == written.read_text(encoding="utf-8")

    download = client.post("/series/download", data={**hidden, "what": "series"})
    assert download.headers["Content-Disposition"] == 'attachment; filename="series.json"'
    assert download.get_json() == cli_json(monkeypatch, SERIES, "series", "series.toml")
    download = client.post("/series/download", data={**hidden, "what": "monitor"})
    assert download.get_json() == triage


def _all(text: str, needle: str) -> list[int]:
    out, start = [], 0
    while (i := text.find(needle, start)) >= 0:
        out.append(i + len(needle) - 2)
        start = i + 1
    return out


def test_open_a_patient_of_the_series(client, monkeypatch):
    _, html = series_page(client, zipped(example_files()))
    hidden = {k: v for k, v in field_values(html).items() if k not in ("what", "patient")}
    page = client.post("/series/patient", data={**hidden, "patient": "P-03"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="status-word">STOP<' in text
    assert "KRATOM-FM/P-03" in text and "Back to series KRATOM-FM-SERIES" in text
    for what in ("clinician", "patient"):
        report = client.post("/series/patient", data={**hidden, "patient": "P-03", "what": what})
        assert report.status_code == 200 and "<html" in report.get_data(as_text=True)
    monitor = client.post("/series/patient", data={**hidden, "patient": "P-03", "what": "monitor"})
    triage = cli_json(monkeypatch, SERIES, "monitor", "series.toml")
    assert monitor.get_json()["events"] == triage["patients"][0]["events"]
    back = client.post("/series", data={**hidden, "patient": "P-03"})
    assert back.status_code == 200 and 'id="status-word">STOP<' in back.get_data(as_text=True)
    missing = client.post("/series/patient", data={**hidden, "patient": "P-99"})
    assert missing.status_code == 400 and "no patient &#39;P-99&#39;" in missing.get_data(
        as_text=True
    )


def test_a_patient_without_stop_rules_reads_as_the_library_says(client, tmp_path):
    data = zipped(trials_form(tmp_path, rules_of_b=False))
    triage = client.post("/api/monitor", data=upload(data)).get_json()
    assert [(p["patient"], p["status"]) for p in triage["patients"]] == [
        ("P-a", "review"),
        ("P-b", "continue"),  # the library's triage: no rule fired
    ]
    status, html = series_page(client, data)
    assert status == 200 and 'id="status-word">REVIEW<' in html
    assert "1 review, 1 continue." in html
    row = html[html.index("<strong>P-b</strong>") :]
    assert row.index("CONTINUE") < row.index("</tr>")


def page_statuses(html: str) -> list[tuple[str, str]]:
    """(patient, status word) of each row of the series page's table, top to bottom."""
    rows = html[html.index('id="triage"') :].split('<td class="patient"><strong>')[1:]
    return [(r[: r.index("<")], r[r.index('status">') + 8 : r.index("</span>")]) for r in rows]


def test_the_series_page_shows_the_library_triage_at_an_as_of_date(client):
    """The packaged series checked up to 2026-01-27 (patients whose schedule starts later are
    not checked, the others' rules are not due yet): each row says what the library says."""
    from nof1.example import example_series_path
    from nof1.series import Series, monitor_series

    triage = monitor_series(Series.load(example_series_path()), as_of="2026-01-27")
    expected = [(p.patient, p.status.upper()) for p in triage.patients]
    assert {s for _, s in expected} == {"NOT CHECKED", "CONTINUE"}
    data = zipped(example_files())
    status, html = series_page(client, data, as_of="2026-01-27")
    assert status == 200 and page_statuses(html) == expected
    assert f'id="status-word">{triage.status.upper()}<' in html
    counts = ", ".join(f"{n} {s}" for s, n in triage.counts.items() if n)
    assert f"Series {triage.id}: {counts}." in " ".join(html.split())
    # a patient the library says continue for: their own page says so too
    hidden = {k: v for k, v in field_values(html).items() if k not in ("what", "patient")}
    first = next(p for p in triage.patients if p.status == "continue").patient
    page = client.post("/series/patient", data={**hidden, "patient": first})
    assert page.status_code == 200 and 'id="status-word">CONTINUE<' in page.get_data(as_text=True)


def test_the_series_report_opened_with_an_as_of_date_shows_that_dates_triage(client):
    from nof1.example import example_series_path
    from nof1.series import Series, monitor_series

    triage = monitor_series(Series.load(example_series_path()), as_of="2026-01-27")
    _, html = series_page(client, zipped(example_files()), as_of="2026-01-27")
    hidden = {k: v for k, v in field_values(html).items() if k not in ("what", "patient")}
    assert hidden["as_of"] == "2026-01-27"
    report = client.post("/series/report", data=hidden).get_data(as_text=True)
    section = report[report.index('<section id="safety">') :]
    section = section[: section.index("</section>")]
    assert "Safety triage (as of 2026-01-27)" in section
    rows = section.split("<tr><td>")[1:]
    shown = [(r[: r.index("<")], r[r.index('class="status') :].split(">")[1][:-6]) for r in rows]
    assert shown == [(p.patient, p.status) for p in triage.patients]
    # the download of the stop-rule check from the same page: the same date
    monitor = client.post("/series/download", data={**hidden, "what": "monitor"}).get_json()
    assert monitor["as_of"] == "2026-01-27"
    assert [p["status"] for p in monitor["patients"]] == [p.status for p in triage.patients]


def test_the_series_page_shows_a_bad_zip_with_its_reason(client):
    status, html = series_page(client, raw_zip(("series.toml", SERIES_TOML), ("../x", b"")))
    assert status == 400 and "a path with &#39;..&#39;" in html and "status-word" not in html


def test_the_series_page_is_linked_from_home_and_nav(client):
    html = client.get("/").get_data(as_text=True)
    assert html.count('href="/series"') == 2
