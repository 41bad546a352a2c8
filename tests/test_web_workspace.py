"""The clinic workspace of the web page (``nof1 serve --workspace DIR``) through Flask's test
client: the API answers the command line's documents, the pages show what the library decided
(a trial nobody could check never reads continue), every security check of the other pages holds
here too, requests at the same moment lose nothing, and the files left behind give the same
status with ``nof1 monitor`` and pass ``nof1 verify-log``."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import threading

import pytest
from click.testing import CliRunner

pytest.importorskip("flask")

from conftest import protocol_dict, protocol_toml
from nof1 import example_paths
from nof1.safety.monitor import verify_log
from nof1.web import create_app
from test_decisions import with_adverse_events
from test_web import TOKEN, field_values

PROTOCOL, DIARY = example_paths()
TRIAL = "KRATOM-FM-001"
SAE = "Serious adverse event"
DOSE = "Dose above plan@2026-03-22"


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "clinic"


@pytest.fixture
def client(folder):
    return create_app(workspace=folder).test_client()


def sae_diary(tmp_path, days=("2026-02-02",), note: str = "") -> bytes:
    """The example diary with serious adverse events on ``days`` (and a note on the first row,
    to make diaries that differ)."""
    path = tmp_path / "sae.csv"
    shutil.copy(DIARY, path)
    with_adverse_events(path, list(days))
    data = path.read_bytes()
    return data.replace(b"2026-01-05,6,7,0,1,,", f"2026-01-05,6,7,0,1,,{note}".encode(), 1)


def create(client, protocol: bytes | None = None, **kw):
    data = {"protocol": (io.BytesIO(protocol or PROTOCOL.read_bytes()), "kratom.toml")}
    return client.post("/api/trials", data=data, **kw)


def upload(client, diary: bytes, as_of: str | None = None, trial=TRIAL, **kw):
    data = {"diary": (io.BytesIO(diary), "export.csv")}
    if as_of:
        data["as_of"] = as_of
    return client.post(f"/api/trials/{trial}/diary", data=data, **kw)


def decide(client, event, decision="continue", by="Dr A", reason="looked at it", run=None, **kw):
    fields = {"event": event, "decision": decision, "by": by, "reason": reason}
    if run is not None:
        fields["run"] = run
    return client.post(f"/api/trials/{TRIAL}/decisions", data=fields, **kw)


def page_form(client, url: str, **fields) -> dict:
    """The CSRF token of the page at ``url`` with the fields given."""
    csrf = field_values(client.get(url).get_data(as_text=True))["csrf_token"]
    return {"csrf_token": csrf, **fields}


def kept_diaries(folder) -> list:
    """The trial's kept diaries, oldest first (without the record kept beside each)."""
    kept = (folder / TRIAL / "diaries").iterdir()
    return sorted(p for p in kept if not p.name.endswith(".json"))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def status_word(html: str) -> str:
    return re.search(r'id="status-word">([^<]*)<', html).group(1)


def cli(*args):
    from nof1.cli import cli as command

    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def without(doc: dict) -> dict:
    """A monitor document without what differs between two logged runs of the same check: the
    log's path, which episodes were new to it, and the workspace's ``run``."""
    doc = json.loads(json.dumps(doc))
    doc.pop("run", None)
    if doc.get("supervision"):
        doc["supervision"].pop("log")
    for e in doc["events"]:
        e.pop("new")
    return doc


# the API answers the command line's documents -----------------------------------------------------


def test_the_api_creates_lists_checks_and_records(client, folder, tmp_path):
    made = create(client)
    assert made.status_code == 201 and made.get_json()["status"] == "not checked"
    assert create(client).status_code == 200  # the same protocol again: nothing to do
    listed = client.get("/api/trials").get_json()["trials"]
    assert [(t["id"], t["status"], t["new"]) for t in listed] == [(TRIAL, "not checked", 0)]
    checked = client.get(f"/api/trials/{TRIAL}").get_json()
    assert checked["status"] == "not checked" and "no diary uploaded yet" in checked["reason"]
    run = upload(client, sae_diary(tmp_path), "2026-02-10")
    assert run.status_code == 200 and run.get_json()["status"] == "stop"
    assert [(e["id"], e["new"]) for e in run.get_json()["events"]] == [(f"{SAE}@2026-02-02", True)]
    assert client.get(f"/api/trials/{TRIAL}").get_json() == run.get_json()  # GET writes nothing
    listed = client.get("/api/trials").get_json()["trials"]
    assert [(t["status"], t["new"], t["as_of"]) for t in listed] == [("stop", 1, "2026-02-10")]
    recorded = decide(client, f"{SAE}@2026-02-02", "continue", "Dr A", "a fall")
    assert recorded.status_code == 200 and recorded.get_json()["through"] == "2026-02-10"
    now = client.get(f"/api/trials/{TRIAL}").get_json()
    assert now["status"] == "continue" and now["events"][0]["decision"]["by"] == "Dr A"
    log = folder / TRIAL / "monitor-log.jsonl"
    assert (verify_log(log).runs, verify_log(log).decisions) == (1, 1)


def test_a_diary_upload_answers_the_document_of_nof1_monitor_with_the_log(client, folder, tmp_path):
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-10")
    decide(client, f"{SAE}@2026-02-02")
    log = folder / TRIAL / "monitor-log.jsonl"
    before = tmp_path / "before.jsonl"
    shutil.copy(log, before)  # the log as the upload finds it
    run = upload(client, sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-03-15")
    got = run.get_json()
    assert got.pop("run") == json.loads(log.read_bytes().splitlines()[-1])["sha256"]
    kept = kept_diaries(folder)[-1]
    by_cli = cli(
        "monitor",
        folder / TRIAL / "protocol.toml",
        kept,
        "--as-of",
        "2026-03-15",
        "--log",
        before,
        "--json",
    )
    assert by_cli.exit_code == 4
    doc = json.loads(by_cli.stdout)
    assert got["supervision"].pop("log") == str(log) and doc["supervision"].pop("log") == str(
        before
    )
    assert got == doc
    assert [(e["id"], e["new"]) for e in got["events"]] == [
        (f"{SAE}@2026-02-02", False),
        (f"{SAE}@2026-03-10", True),
    ]
    assert log.read_bytes().count(b"\n") == before.read_bytes().count(b"\n") == 3


# the pages render what the library decided ------------------------------------------------------


def test_pages_and_api_agree_with_nof1_monitor_on_the_files_left_behind(client, folder, tmp_path):
    """After uploads and decisions made through the pages' forms, nof1 monitor on the same files,
    up to the same date, with a copy of the log, gives the status and the episodes the page and
    the API give, and nof1 verify-log passes."""
    home = f"/workspace/{TRIAL}"
    sent = client.post(
        "/workspace",
        data=page_form(
            client, "/workspace", protocol=(io.BytesIO(PROTOCOL.read_bytes()), "p.toml")
        ),
    )
    assert sent.status_code == 303 and sent.headers["Location"].endswith(home)
    steps = [
        (sae_diary(tmp_path), "2026-02-10", [(f"{SAE}@2026-02-02", "continue")]),
        (sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-03-23", [(DOSE, "continue")]),
        (sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-05-03", []),
    ]
    for diary, as_of, decisions in steps:
        form = page_form(client, home, diary=(io.BytesIO(diary), "export.csv"), as_of=as_of)
        assert client.post(f"{home}/diary", data=form).status_code == 303
        for event, decision in decisions:
            form = page_form(client, home, event=event, decision=decision, by="Dr A", reason="ok")
            assert client.post(f"{home}/decisions", data=form).status_code == 303
        page = client.get(home).get_data(as_text=True)
        api = client.get(f"/api/trials/{TRIAL}").get_json()
        kept = kept_diaries(folder)[-1]
        by_cli = cli(*by_cli_args(folder, kept, as_of, tmp_path))
        doc = json.loads(by_cli.stdout)
        assert without(api) == without(doc)
        assert status_word(page) == doc["status"].upper() == api["status"].upper()
        assert by_cli.exit_code == {"stop": 4, "review": 3, "continue": 0}[doc["status"]]
        shown = re.findall(r'class="episode-id">([^<]*)<', page)
        assert sorted(shown) == sorted(e["id"] for e in doc["events"])
        listed = client.get("/api/trials").get_json()["trials"][0]
        assert (listed["status"], listed["as_of"]) == (doc["status"], as_of)
    assert [s[1] for s in steps] and doc["status"] == "stop"  # the 2026-03-10 episode, undecided
    checked = cli("verify-log", folder / TRIAL / "monitor-log.jsonl")
    assert checked.exit_code == 0 and "3 run(s), 2 decision(s)" in checked.stdout


def by_cli_args(folder, kept, as_of, tmp_path):
    """``nof1 monitor ... --json`` on the trial's files with a copy of its log as it is now (so
    that nothing is appended to the trial's own)."""
    copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}.jsonl"
    shutil.copy(folder / TRIAL / "monitor-log.jsonl", copy)
    protocol = folder / TRIAL / "protocol.toml"
    return ("monitor", protocol, kept, "--as-of", as_of, "--log", copy, "--json")


def test_the_trial_page_shows_new_episodes_first_and_a_form_for_each_undecided(client, tmp_path):
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-10")
    decide(client, f"{SAE}@2026-02-02")
    upload(client, sae_diary(tmp_path, ["2026-02-02", "2026-03-10"]), "2026-03-23")
    html = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(html) == "STOP"
    new, earlier = html.split('id="new-episodes"')[1].split('id="earlier-episodes"')
    assert re.findall(r'class="episode-id">([^<]*)<', new) == [f"{SAE}@2026-03-10", DOSE]
    assert re.findall(r'class="episode-id">([^<]*)<', earlier) == [f"{SAE}@2026-02-02"]
    assert new.count('name="event"') == 2 and 'name="event"' not in earlier  # decided: no form
    assert "decided CONTINUE by Dr A" in text_of(earlier)
    assert "2026-03-10: serious" in text_of(new)
    assert new.count('name="by" required') == new.count('name="reason" required') == 2


def test_a_trial_nobody_could_check_is_shown_as_not_checked(client, folder):
    create(client)
    listed = client.get("/workspace").get_data(as_text=True)
    assert 'class="badge unknown status">NOT CHECKED<' in listed and "badge continue" not in listed
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "NOT CHECKED" and "no diary uploaded yet" in page
    assert 'class="status-box unknown"' in page
    upload(client, DIARY.read_bytes(), "2026-03-21")
    assert status_word(client.get(f"/workspace/{TRIAL}").get_data(as_text=True)) == "CONTINUE"
    protocol = folder / TRIAL / "protocol.toml"  # edited by hand: a rule the diary cannot feed
    protocol.write_text(
        protocol.read_text(encoding="utf-8")
        + '\n[[stop_rules]]\nname = "Rash"\ncolumn = "rash"\nequals = 1\naction = "stop"\n',
        encoding="utf-8",
    )
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "NOT CHECKED" and "rash" in page and "CONTINUE" not in page
    assert client.get(f"/api/trials/{TRIAL}").get_json()["status"] == "not checked"


def test_a_log_that_lends_nothing_is_said_and_every_episode_counts(client, folder, tmp_path):
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-10")
    decide(client, f"{SAE}@2026-02-02")
    assert client.get(f"/api/trials/{TRIAL}").get_json()["status"] == "continue"
    log = folder / TRIAL / "monitor-log.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"by":"Dr A"', b'"by":"Dr Z"'))
    page = client.get(f"/workspace/{TRIAL}").get_data(as_text=True)
    assert status_word(page) == "STOP" and "Decisions NOT honoured" in page
    assert client.get("/api/trials").get_json()["trials"][0]["status"] == "stop"


def test_a_run_that_could_not_be_logged_shows_its_verdict_and_says_so(
    client, folder, tmp_path, monkeypatch
):
    import nof1.safety.supervise as supervise
    from nof1.errors import LogError

    create(client)

    def refuse(*args, **kwargs):
        raise LogError("the disk is full")

    monkeypatch.setattr(supervise, "log_run", refuse)
    run = upload(client, sae_diary(tmp_path), "2026-02-10")
    assert run.status_code == 500 and run.get_json()["status"] == "stop"
    assert run.get_json()["error"] == "the run was NOT logged: the disk is full"
    home = f"/workspace/{TRIAL}"
    form = page_form(client, home, diary=(io.BytesIO(sae_diary(tmp_path)), "e.csv"), as_of="")
    page = client.post(f"{home}/diary", data=form)
    html = page.get_data(as_text=True)
    assert page.status_code == 500 and status_word(html) == "STOP" and "NOT logged" in html
    assert 'name="event"' not in html  # nothing to decide on: the log does not hold this run


def test_bad_input_is_400_naming_file_line_and_column_and_nothing_is_written(client, folder):
    create(client)
    lines = DIARY.read_text(encoding="utf-8").splitlines()
    date, _pain, rest = lines[5].split(",", 2)
    lines[5] = f"{date},11,{rest}"
    bad = upload(client, ("\n".join(lines) + "\n").encode())
    assert bad.status_code == 400
    assert bad.get_json() == {
        "error": "export.csv, line 6, column 'pain': 11 is outside the scale of 'pain', [0, 10]"
    }
    assert upload(client, DIARY.read_bytes(), "2026-13-01").status_code == 400
    fields = {"diary": (io.BytesIO(DIARY.read_bytes()), "d.csv"), "as_off": "2026-03-01"}
    typo = client.post(f"/api/trials/{TRIAL}/diary", data=fields)
    assert typo.status_code == 400 and "unknown field 'as_off'" in typo.get_json()["error"]
    assert list((folder / TRIAL / "diaries").iterdir()) == []
    assert not (folder / TRIAL / "monitor-log.jsonl").exists()
    page = client.post(
        f"/workspace/{TRIAL}/diary",
        data=page_form(
            client, f"/workspace/{TRIAL}", diary=(io.BytesIO(("\n".join(lines)).encode()), "x.csv")
        ),
    )
    assert page.status_code == 400 and "x.csv, line 6, column" in page.get_data(as_text=True)
    invalid = create(client, protocol_toml(protocol_dict(design={"cycles": 0})).encode())
    assert invalid.status_code == 400 and "design.cycles" in invalid.get_json()["error"]


def test_decision_refusals_are_400_in_the_words_of_nof1_decide_and_change_nothing(client, folder):
    create(client)
    upload(client, DIARY.read_bytes(), "2026-03-23")
    log = folder / TRIAL / "monitor-log.jsonl"
    before = log.read_bytes()
    for fields, message in [
        ({"event": "Nope@2026-01-01"}, "did not list 'Nope@2026-01-01'"),
        ({"event": DOSE, "decision": "later"}, "must be one of continue, stop"),
        ({"event": DOSE, "by": ""}, "who decides (by is empty"),
        ({"event": DOSE, "reason": "  "}, "why (reason is empty"),
    ]:
        refused = decide(client, **fields)
        assert refused.status_code == 400 and message in refused.get_json()["error"]
        assert "nothing was recorded" in refused.get_json()["error"]
    home = f"/workspace/{TRIAL}"
    form = page_form(client, home, event=DOSE, decision="continue", by="Dr A")
    page = client.post(f"{home}/decisions", data=form)
    assert page.status_code == 400 and "reason is empty" in page.get_data(as_text=True)
    assert log.read_bytes() == before


def test_a_trial_id_is_one_safe_folder_name_and_taken_once(client, folder, tmp_path):
    for bad in ("../evil", "..", ".hidden", "a\\\\b"):
        text = protocol_toml(protocol_dict(trial={"id": bad})).encode()
        refused = create(client, text)
        assert (
            refused.status_code == 400
            and "cannot name the trial's folder" in (refused.get_json()["error"])
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic"]
    assert list(folder.iterdir()) == []
    create(client)
    taken = create(client, PROTOCOL.read_bytes() + b"\n# another\n")
    assert (
        taken.status_code == 409 and "already, with another protocol" in taken.get_json()["error"]
    )
    page = client.post(
        "/workspace",
        data=page_form(
            client,
            "/workspace",
            protocol=(io.BytesIO(PROTOCOL.read_bytes() + b"\n# b\n"), "p.toml"),
        ),
    )
    assert page.status_code == 409 and "already, with another protocol" in page.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "url",
    [
        "/api/trials/NO-SUCH-TRIAL",
        "/workspace/NO-SUCH-TRIAL",
        f"/workspace/{TRIAL}/diaries/nope.csv",
        f"/workspace/{TRIAL}/diaries/..%2Fprotocol.toml",
        "/api/trials/..%2F..%2Fetc",
        "/workspace/%2E%2E%2Fclinic",
    ],
)
def test_unknown_trials_and_paths_out_of_the_workspace_are_refused(client, url):
    create(client)
    response = client.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data and b"[trial]" not in response.data


@pytest.mark.parametrize("url", ["/workspace/..", "/api/trials/..", "/api/trials/.hidden"])
def test_a_trial_id_in_a_url_that_cannot_be_a_folder_is_refused(client, url):
    response = client.get(url)
    assert response.status_code == 400 and b"cannot name the trial" in response.data


def test_downloads_are_the_kept_files_and_the_report_opens(client, folder, tmp_path):
    create(client)
    upload(client, DIARY.read_bytes(), "2026-05-03")
    trial = folder / TRIAL
    kept = kept_diaries(folder)[0]
    for url, path in [
        (f"/workspace/{TRIAL}/monitor-log.jsonl", trial / "monitor-log.jsonl"),
        (f"/workspace/{TRIAL}/protocol.toml", trial / "protocol.toml"),
        (f"/workspace/{TRIAL}/diaries/{kept.name}", kept),
    ]:
        response = client.get(url)
        assert response.status_code == 200 and response.data == path.read_bytes()
        assert response.headers["Content-Disposition"].startswith("attachment")
    report = client.get(f"/workspace/{TRIAL}/report")
    assert report.status_code == 200 and b"N-of-1 trial report" in report.data
    assert "'unsafe-inline'" in report.headers["Content-Security-Policy"]
    assert client.get(f"/workspace/{TRIAL}/report?audience=patient").status_code == 200
    assert client.get(f"/workspace/{TRIAL}/report?audience=x").status_code == 400


def test_the_home_page_links_the_workspace_only_when_one_is_served(client):
    assert b'id="workspace-card"' in client.get("/").data
    plain = create_app().test_client()
    assert b"workspace" not in plain.get("/").data.lower()
    for url in ("/workspace", "/api/trials"):
        response = plain.get(url)
        assert response.status_code == 404 and b"nof1 serve --workspace DIR" in response.data


def test_pages_escape_what_the_files_say(client):
    text = protocol_toml(
        protocol_dict(
            trial={"id": "<i>T-1"},
            stop_rules=[
                {"name": "<b>Flare</b>", "column": "pain", "at_least": 9, "action": "stop"}
            ],
        )
    ).encode()
    assert create(client, text).status_code == 201
    listed = client.get("/workspace").get_data(as_text=True)
    assert "&lt;i&gt;T-1" in listed and "<i>T-1" not in listed


# the security rules hold for the workspace ------------------------------------------------------


def test_the_forms_of_the_workspace_need_the_csrf_token(client, folder, tmp_path):
    create(client)
    upload(client, sae_diary(tmp_path), "2026-02-10")
    log = folder / TRIAL / "monitor-log.jsonl"
    before = log.read_bytes()
    home = f"/workspace/{TRIAL}"
    fields = {"event": f"{SAE}@2026-02-02", "decision": "continue", "by": "Dr A", "reason": "x"}
    for data in (fields, {**fields, "csrf_token": "forged-token-of-some-length"}):
        refused = client.post(f"{home}/decisions", data=data)
        assert refused.status_code == 400 and b"expired" in refused.data
    diary = {"diary": (io.BytesIO(DIARY.read_bytes()), "d.csv")}
    assert client.post(f"{home}/diary", data=diary).status_code == 400
    protocol = {"protocol": (io.BytesIO(PROTOCOL.read_bytes()), "p.toml")}
    assert client.post("/workspace", data=protocol).status_code == 400
    assert log.read_bytes() == before and len(kept_diaries(folder)) == 1
    accepted = client.post(f"{home}/decisions", data=page_form(client, home, **fields))
    assert accepted.status_code == 303 and log.read_bytes() != before


def test_a_foreign_host_or_site_is_refused_before_anything_is_written(client, folder):
    create(client)
    for url in ("/workspace", f"/workspace/{TRIAL}", "/api/trials", f"/api/trials/{TRIAL}"):
        response = client.get(url, headers={"Host": "evil.example"})
        assert response.status_code == 400 and b"does not serve the host" in response.data
    for headers in (
        {"Host": "evil.example:8765"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        assert upload(client, DIARY.read_bytes(), headers=headers).status_code in (400, 403)
        assert decide(client, DOSE, headers=headers).status_code in (400, 403)
        protocol = protocol_toml(protocol_dict(trial={"id": "OTHER"})).encode()
        assert create(client, protocol, headers=headers).status_code in (400, 403)
    assert [p.name for p in folder.iterdir()] == [TRIAL]
    assert list((folder / TRIAL).joinpath("diaries").iterdir()) == []


def test_off_this_computer_every_workspace_request_needs_the_token(folder):
    client = create_app(token=TOKEN, served_hosts=["10.1.2.3:8765"], workspace=folder).test_client()
    host = {"Host": "10.1.2.3:8765"}
    for url in ("/workspace", f"/workspace/{TRIAL}", "/api/trials", f"/api/trials/{TRIAL}"):
        assert client.get(url, headers=host).status_code == 401
    assert create(client, headers=host).status_code == 401
    assert list(folder.iterdir()) == []
    right = {**host, "Authorization": f"Bearer {TOKEN}"}
    assert create(client, headers=right).status_code == 201
    assert upload(client, DIARY.read_bytes(), "2026-03-23", headers=host).status_code == 401
    assert upload(client, DIARY.read_bytes(), "2026-03-23", headers=right).status_code == 200
    assert decide(client, DOSE, headers=host).status_code == 401
    assert decide(client, DOSE, headers=right).status_code == 200
    assert client.get("/workspace", headers=right).status_code == 200


def test_workspace_responses_set_the_security_headers_and_load_nothing_else(client):
    create(client)
    upload(client, DIARY.read_bytes())
    for url in ("/workspace", f"/workspace/{TRIAL}", f"/workspace/{TRIAL}/monitor-log.jsonl"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "http://" not in html and "https://" not in html and "<script>" not in html


def test_a_diary_over_the_upload_limit_is_413_and_not_kept(folder):
    client = create_app(max_upload_bytes=5000, workspace=folder).test_client()
    create(client)  # 4,579 bytes
    response = upload(client, DIARY.read_bytes() * 2)
    assert response.status_code == 413 and "larger than the limit" in response.get_json()["error"]
    assert list((folder / TRIAL / "diaries").iterdir()) == []


# requests at the same moment ---------------------------------------------------------------------


def test_uploads_and_decisions_at_the_same_moment_lose_nothing(folder, tmp_path):
    app = create_app(workspace=folder)
    create(app.test_client())
    upload(app.test_client(), sae_diary(tmp_path), "2026-02-10")  # an episode to decide on
    diaries = [sae_diary(tmp_path, note=f"export {i}") for i in range(8)]
    barrier = threading.Barrier(16)
    answers: dict[str, int] = {}

    def uploader(i):
        client = app.test_client()
        barrier.wait()
        answers[f"upload {i}"] = upload(client, diaries[i], "2026-02-10").status_code

    def decider(i):
        client = app.test_client()
        barrier.wait()
        response = decide(client, f"{SAE}@2026-02-02", "continue", f"Dr {i}", "same moment")
        answers[f"decision {i}"] = response.status_code

    threads = [threading.Thread(target=f, args=(i,)) for i in range(8) for f in (uploader, decider)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert set(answers.values()) == {200} and len(answers) == 16
    log = folder / TRIAL / "monitor-log.jsonl"
    check = verify_log(log)
    assert (check.status, check.runs, check.decisions) == ("intact", 9, 8)
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert sorted(r["by"] for r in records if r["kind"] == "decision") == [
        f"Dr {i}" for i in range(8)
    ]
    kept = kept_diaries(folder)
    assert len(kept) == 9
    assert {k.read_bytes() for k in kept[1:]} == set(diaries)  # every upload kept, whole
    # each diary was kept and checked before the next: the kept order is the runs' order
    runs = [r["diary_sha256"] for r in records if r["kind"] == "run"]
    assert runs == [hashlib.sha256(k.read_bytes()).hexdigest() for k in kept]
    assert cli("verify-log", log).exit_code == 0


# nof1 serve --workspace ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["file", "link"])
def test_serve_refuses_a_workspace_that_is_a_file_or_a_link_in_one_line(tmp_path, target):
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path)
    result = cli("serve", "--no-browser", "--port", "0", "--workspace", tmp_path / target)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("nof1: ") and "Traceback" not in result.stderr


def test_serve_with_a_workspace_creates_it_and_serves_its_list(tmp_path):
    from nof1.web.server import make_server

    server = make_server("127.0.0.1", 0, workspace=tmp_path / "clinic")
    try:
        assert (tmp_path / "clinic").is_dir()
        assert ((tmp_path / "clinic").stat().st_mode & 0o777) == 0o700
        client = server.app.test_client()
        host = {"Host": f"127.0.0.1:{server.server_port}"}
        assert client.get("/workspace", headers=host).status_code == 200
    finally:
        server.server_close()
