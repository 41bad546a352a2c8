"""The clinic workspace of the web page failing closed (``nof1 serve --workspace DIR``), through
Flask's test client: the status stays the check up to the date asked at the upload whatever the
log lends, a clinician's stop reads STOP whatever else fails, an older export is refused with its
undecided episode kept, and a decision holds only for the check the clinician was shown (the run
each form and answer carries)."""

from __future__ import annotations

import io
import json
import re

import pytest

pytest.importorskip("flask")

from test_web import field_values
from test_web_workspace import (
    DIARY,
    DOSE,
    PROTOCOL,
    SAE,
    TRIAL,
    create,
    decide,
    kept_diaries,
    page_form,
    sae_diary,
    status_word,
    text_of,
    upload,
)


def ending(day: str) -> bytes:
    """The example diary as exported on ``day``: its rows up to that date."""
    lines = DIARY.read_bytes().splitlines(keepends=True)
    return b"".join([lines[0], *(r for r in lines[1:] if r[:10].decode() <= day)])


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "clinic"


@pytest.fixture
def client(folder):
    from nof1.web import create_app

    return create_app(workspace=folder).test_client()


def test_a_clinicians_stop_reads_stop_when_the_files_can_no_longer_be_read(
    client, folder, tmp_path
):
    """The reviewer's case: after a stop decision, protocol.toml edited by hand so that it no
    longer reads (cycles = 0) showed NOT CHECKED, below REVIEW on the list."""
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-10")
    decide(client, f"{SAE}@2026-02-02", "stop", "Dr B", "serious event on treatment")
    other = PROTOCOL.read_bytes().replace(TRIAL.encode(), b"T-REVIEW")
    create(client, other)
    upload(client, DIARY.read_bytes(), "2026-03-23", trial="T-REVIEW")
    protocol = folder / TRIAL / "protocol.toml"
    protocol.write_text(protocol.read_text().replace("cycles = 4", "cycles = 0"), "utf-8")
    checked = client.get(f"/api/trials/{TRIAL}").get_json()
    assert checked["status"] == "stop" and checked["stopped"]["by"] == "Dr B"
    assert "stopped by Dr B" in checked["reason"] and "design.cycles" in checked["reason"]
    listed = client.get("/api/trials").get_json()["trials"]
    assert [(t["id"], t["status"]) for t in listed] == [(TRIAL, "stop"), ("T-REVIEW", "review")]
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "STOP" and 'class="status-box stop"' in page
    assert "the trial was stopped by Dr B at" in page and "NOT CHECKED" not in page
    clinic = client.get("/workspace").get_data(as_text=True)
    assert clinic.index(f">{TRIAL}<") < clinic.index(">T-REVIEW<")
    assert 'class="badge stop status">STOP<' in clinic


def test_the_status_stays_as_of_the_date_asked_when_a_crash_left_a_partial_line(client, folder):
    """The reviewer's case: an upload checked up to 2026-03-06, after the diary's last entry
    (03-01), reads REVIEW ('Diary not kept'); a partial line appended to the log, as a crash
    leaves it, made the list, the API and the page check the diary up to its own last date, and
    read CONTINUE. The date asked is kept beside the diary, so they all still read REVIEW."""
    create(client)
    run = upload(client, ending("2026-03-01"), "2026-03-06")
    assert run.get_json()["status"] == "review"
    assert [e["id"] for e in run.get_json()["events"]] == ["Diary not kept@2026-03-04"]
    with open(folder / TRIAL / "monitor-log.jsonl", "ab") as log:
        log.write(b'{"log":"nof1 monitor log","kind":"run","time":"2026-03-0')
    checked = client.get(f"/api/trials/{TRIAL}").get_json()
    listed = client.get("/api/trials").get_json()["trials"][0]
    assert (checked["status"], checked["as_of"]) == ("review", "2026-03-06")
    assert [e["id"] for e in checked["events"]] == ["Diary not kept@2026-03-04"]
    assert checked["supervision"]["refused"] is not None  # the log lends nothing: said
    assert (listed["status"], listed["as_of"]) == ("review", "2026-03-06")
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "REVIEW" and "Decisions NOT honoured" in page
    assert "checked up to 2026-03-06" in text_of(page) and "CONTINUE" not in page
    assert "up to 2026-03-06, the date asked at its upload" in text_of(page)


def test_the_status_stays_as_of_the_date_asked_when_the_run_could_not_be_logged(
    client, folder, monkeypatch
):
    """The reviewer's other case: the log cannot be written (500, NOT logged); the list, the API
    and the page then showed the kept diary checked up to its own last date: CONTINUE."""
    import nof1.safety.supervise as supervise
    from nof1.errors import LogError

    create(client)
    assert upload(client, ending("2026-02-20"), "2026-02-20").get_json()["status"] == "continue"

    def refuse(*args, **kwargs):
        raise LogError("the disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(supervise, "log_run", refuse)
        run = upload(client, ending("2026-03-01"), "2026-03-06")
    assert run.status_code == 500 and run.get_json()["status"] == "review"
    checked = client.get(f"/api/trials/{TRIAL}").get_json()
    assert (checked["status"], checked["as_of"]) == ("review", "2026-03-06")
    assert [(e["id"], e["new"]) for e in checked["events"]] == [("Diary not kept@2026-03-04", True)]
    listed = client.get("/api/trials").get_json()["trials"][0]
    assert (listed["status"], listed["as_of"]) == ("review", "2026-03-06")
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "REVIEW" and "checked up to 2026-03-06" in text_of(page)
    assert "up to 2026-03-06, the date asked at its upload" in text_of(page)
    assert len(kept_diaries(folder)) == 2


def test_an_older_export_is_refused_plainly_and_the_undecided_episode_stays(
    client, folder, tmp_path
):
    """An upload whose diary ends before the one checked last would have made the undecided
    episode of the days after vanish from the page: it is refused, and the page says why."""
    create(client)
    upload(client, sae_diary(tmp_path, ["2026-03-10"]), "2026-03-15")
    log = (folder / TRIAL / "monitor-log.jsonl").read_bytes()
    refused = upload(client, ending("2026-03-01"))
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith(
        "export.csv: this diary ends before the one checked last (2026-03-15): an older export?"
    )
    home = f"/workspace/{TRIAL}"
    form = page_form(client, home, diary=(io.BytesIO(ending("2026-03-01")), "old.csv"))
    page = client.post(f"{home}/diary", data=form)
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and status_word(html) == "STOP"
    assert (
        "old.csv: this diary ends before the one checked last (2026-03-15): an older export?"
        in (text_of(html))
    )
    assert re.findall(r'class="episode-id">([^<]*)<', html) == [f"{SAE}@2026-03-10"]
    assert html.count('name="event"') == 1  # still undecided, its form still there
    assert (folder / TRIAL / "monitor-log.jsonl").read_bytes() == log
    assert len(kept_diaries(folder)) == 1
    assert client.get(f"/api/trials/{TRIAL}").get_json()["as_of"] == "2026-03-15"


def test_a_decision_from_a_page_a_newer_upload_replaced_is_refused(client, folder, tmp_path):
    """The race: the page shows STOP as of 02-20; a colleague uploads a newer diary; a continue
    sent from the old page would apply through the new as-of date, to days never seen. Each
    decision form carries the run the page was rendered from, and a decision on a run that is
    no longer the latest is refused, nothing recorded, the page saying why."""
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-20")
    home = f"/workspace/{TRIAL}"
    old = client.get(home).get_data(as_text=True)
    assert status_word(old) == "STOP"
    log = folder / TRIAL / "monitor-log.jsonl"
    seen = field_values(old)["run"]  # the decision form's hidden field
    assert seen == json.loads(log.read_bytes().splitlines()[-1])["sha256"]
    assert seen == client.get(f"/api/trials/{TRIAL}").get_json()["run"]
    assert seen == client.get("/api/trials").get_json()["trials"][0]["run"]
    newer = upload(client, sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-03-15")
    assert newer.get_json()["run"] != seen
    before = log.read_bytes()
    fields = {
        "event": f"{SAE}@2026-02-02",
        "decision": "continue",
        "by": "Dr A",
        "reason": "a fall",
    }
    page = client.post(f"{home}/decisions", data=page_form(client, home, **fields, run=seen))
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "the trial was checked again since" in text_of(html)
    assert "nothing was recorded" in text_of(html) and status_word(html) == "STOP"
    assert f'name="run" value="{newer.get_json()["run"]}"' in html  # the page as it stands now
    refused = decide(client, **fields, run=seen[:12])
    assert refused.status_code == 400 and "checked again since" in refused.get_json()["error"]
    assert log.read_bytes() == before
    recorded = decide(client, **fields, run=newer.get_json()["run"][:12])
    assert recorded.status_code == 200 and recorded.get_json()["through"] == "2026-03-15"


def test_a_run_that_is_not_a_sha256_is_refused(client, folder):
    create(client)
    upload(client, DIARY.read_bytes(), "2026-03-23")
    before = (folder / TRIAL / "monitor-log.jsonl").read_bytes()
    for run in ("abc", "z" * 64, "0123456789a"):
        refused = decide(client, DOSE, run=run)
        assert refused.status_code == 400 and "nothing was recorded" in refused.get_json()["error"]
    assert (folder / TRIAL / "monitor-log.jsonl").read_bytes() == before


def test_a_decision_without_a_run_is_recorded_as_before(client, tmp_path):
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-20")
    upload(client, sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-03-15")
    recorded = decide(client, f"{SAE}@2026-02-02", run="")
    assert recorded.status_code == 200 and recorded.get_json()["through"] == "2026-03-15"


def test_the_report_says_what_the_trial_page_says(client):
    """A second review's case: the workspace report ran without the trial's log, so a
    clinician's stop on a review episode read REVIEW in the report and STOP on the page."""
    create(client)
    upload(client, DIARY.read_bytes(), "2026-03-23")  # REVIEW: the dose above plan
    decide(client, DOSE, "stop", "Dr B", "the dose was not kept")
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "STOP"
    report = client.get(f"/workspace/{TRIAL}/report").get_data(as_text=True)
    assert "the trial was stopped by Dr B" in report
