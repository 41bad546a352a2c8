"""The web page (``nof1 serve``) through Flask's test client: the API equals the CLI's JSON, bad
input gives 400 naming file and line, and every security check refuses what it must."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("flask")

from conftest import DATA, EXAMPLE_DIARY, EXAMPLE_PROTOCOL, protocol_dict, protocol_toml
from nof1.cli import cli
from nof1.web import create_app
from nof1.web.server import ServeError, make_server

PROTOCOL_NAME, DIARY_NAME = EXAMPLE_PROTOCOL.name, EXAMPLE_DIARY.name
TOKEN = "a-token-of-twenty-chars"


@pytest.fixture
def client():
    return create_app().test_client()


def files(diary: bytes | None = None, protocol: bytes | None = None, **fields):
    """Multipart data: the example files (or the bytes given) under their own names."""
    data = {
        "protocol": (io.BytesIO(protocol or EXAMPLE_PROTOCOL.read_bytes()), PROTOCOL_NAME),
        **fields,
    }
    if diary is not False:
        data["diary"] = (io.BytesIO(diary or EXAMPLE_DIARY.read_bytes()), DIARY_NAME)
    return data


def cli_json(monkeypatch, *args: str):
    """``nof1 ARGS --json`` run in the data folder, so its file names match the uploads'."""
    monkeypatch.chdir(DATA)
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    return json.loads(result.stdout)


def bad_diary() -> bytes:
    lines = EXAMPLE_DIARY.read_text(encoding="utf-8").splitlines()
    date, _pain, rest = lines[5].split(",", 2)
    lines[5] = f"{date},11,{rest}"  # line 6 of the file: pain 11 on a 0-10 scale
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- the API equals the command line's --json -----------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "args", "fields", "with_diary"),
    [
        ("check", ("check", PROTOCOL_NAME, DIARY_NAME), {}, True),
        ("schedule", ("schedule", PROTOCOL_NAME), {}, False),
        ("analyze", ("analyze", PROTOCOL_NAME, DIARY_NAME), {}, True),
        (
            "monitor",
            ("monitor", PROTOCOL_NAME, DIARY_NAME, "--as-of", "2026-03-30"),
            {"as_of": "2026-03-30"},
            True,
        ),
        (
            "power",
            (
                "power",
                PROTOCOL_NAME,
                *"--effect -1 --sd 1.5 --rho 0.3 --sims 200".split(),
                *"--method bayes --seed 3".split(),
            ),
            {
                "effect": "-1",
                "sd": "1.5",
                "rho": "0.3",
                "sims": "200",
                "method": "bayes",
                "seed": "3",
            },
            False,
        ),
    ],
)
def test_api_answers_the_cli_json_document(client, monkeypatch, endpoint, args, fields, with_diary):
    expected = cli_json(monkeypatch, *args)
    response = client.post(
        f"/api/{endpoint}", data=files(diary=None if with_diary else False, **fields)
    )
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    if endpoint == "power":  # compute time differs run to run
        got.pop("seconds")
        expected.pop("seconds")
    assert got == expected


def test_cli_api_and_design_form_assume_one_autocorrelation_and_name_it(client, monkeypatch):
    # Issue 20: nof1 power assumed 0.4, the design form 0.3 and POST /api/power 0.0, so the same
    # trial had a power of 36%, 42% and 61%. With rho left out, all three now give one power.
    import math
    import re

    from scipy import stats as sps

    from nof1.planning.defaults import DEFAULT_RHO

    trial = {"effect": "-1", "sd": "1.5", "sims": "2000", "method": "paired-t", "seed": "1"}
    options = [f"--{k}={v}" for k, v in trial.items()]
    text = CliRunner().invoke(cli, ["power", str(EXAMPLE_PROTOCOL), *options]).stdout
    by_cli = cli_json(monkeypatch, "power", PROTOCOL_NAME, *options)
    by_api = client.post("/api/power", data=files(diary=False, **trial)).get_json()
    form = design_form(client, **{f"plan-{k}": v for k, v in trial.items()}, action="check")
    assert form["plan-rho"] == f"{DEFAULT_RHO:g}"  # the form starts from the same default
    page = " ".join(client.post("/design", data=form).get_data(as_text=True).split())

    assert DEFAULT_RHO == 0.4
    assert by_cli["rho"] == by_api["rho"] == by_cli["settings"]["rho"] == 0.4
    assert by_cli["power"] == by_api["power"]
    shown = re.search(r'id="power-value">(\d+)%<', page).group(1)
    assert shown == f"{100 * by_cli['power']:.0f}"
    assert "autocorrelation 0.4" in text and "autocorrelation 0.4)" in page
    # independent: scipy.stats.nct with the variance of a cycle difference under AR(1) noise at
    # rho 0.4 (11 counted days a period, periods 14 days apart; brute-force sums of rho^|i-j|)
    rho, sd, m, k = 0.4, 1.5, 11, 4
    days = np.arange(m)
    within = (rho ** np.abs(days[:, None] - days[None, :])).sum()
    across = (rho ** np.abs(days[:, None] - days[None, :] - 14)).sum()
    nc = -1.0 / math.sqrt(sd**2 * 2 * (within - across) / m**2 / k)
    crit = sps.t.ppf(0.975, k - 1)
    expected = sps.nct.sf(crit, k - 1, nc) + sps.nct.cdf(-crit, k - 1, nc)  # 0.322
    assert abs(by_cli["power"] - expected) < 3.5 * math.sqrt(expected * (1 - expected) / 2000)


def test_api_bad_diary_is_400_naming_file_line_and_column(client):
    response = client.post("/api/analyze", data=files(diary=bad_diary()))
    assert response.status_code == 400
    error = "kratom_diary.csv, line 6, column 'pain': 11 is outside the scale of 'pain', [0, 10]"
    assert response.get_json() == {"error": error}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no protocol file was uploaded"),
        ({"protocol": "/etc/passwd"}, "protocol must be an uploaded file"),
        (files(effect="-1", sd="1.5", rhoo="0.3"), "unknown field 'rhoo'"),
        (files(effect="big", sd="1.5"), "effect = 'big' is not a number"),
        (files(sd="1.5"), "the field 'effect' is required"),
        (files(effect="-1", sd="1.5", method="t"), "method = 't' is not valid"),
        (files(effect="-1", sd="-2"), "sd"),
        (files(effect="-1", sd="1", sims="20001"), "more than this page runs (20000)"),
    ],
)
def test_api_power_refuses_bad_fields_with_400(client, data, message):
    response = client.post("/api/power", data=data)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_api_protocol_problem_names_the_key(client):
    text = protocol_toml(protocol_dict(design={"cycles": 0}))
    response = client.post("/api/schedule", data=files(protocol=text.encode(), diary=False))
    assert response.status_code == 400
    assert (
        "kratom_protocol.toml: design.cycles = 0 must be a whole number from 1 to 100"
        in (response.get_json()["error"])
    )


def test_upload_over_the_limit_is_413():
    client = create_app(max_upload_bytes=4000).test_client()
    response = client.post("/api/analyze", data=files())  # the example diary is ~5 kB
    assert response.status_code == 413
    assert "larger than the limit" in response.get_json()["error"]


def test_the_limit_is_per_file_so_the_report_buttons_work_just_under_it():
    # both example files are under 5,000 bytes; the result page sends them back as base64 (a third
    # larger, over 5,000 together): the report buttons must still work, and a larger file is 413
    small = create_app(max_upload_bytes=5000).test_client()
    status, html = trial_page(small, **files())
    assert status == 200
    hidden = {k: v for k, v in field_values(html).items() if k not in ("audience", "what")}
    assert len(hidden["diary_data"]) + len(hidden["protocol_data"]) > 5000
    report = small.post("/trial/report", data={**hidden, "audience": "clinician"})
    assert report.status_code == 200 and "<html" in report.get_data(as_text=True)
    big = small.post("/api/analyze", data=files(diary=EXAMPLE_DIARY.read_bytes() + b"\n" * 3000))
    assert big.status_code == 413 and "larger than the limit" in big.get_json()["error"]


@pytest.mark.parametrize("kind", ["xlsx", "parquet"])
def test_a_workbook_or_parquet_diary_gives_the_csv_numbers(client, tmp_path, kind):
    import pandas as pd

    frame = pd.read_csv(EXAMPLE_DIARY, dtype=str, keep_default_na=False)
    path = tmp_path / f"diary.{kind}"
    if kind == "xlsx":
        frame.to_excel(path, index=False, sheet_name="Diary")
    else:
        frame.to_parquet(path, index=False)
    csv_doc = client.post("/api/analyze", data=files()).get_json()
    data = files()
    data["diary"] = (io.BytesIO(path.read_bytes()), path.name)
    doc = client.post("/api/analyze", data=data).get_json()
    assert doc["outcomes"] == csv_doc["outcomes"] and doc["diary"]["rows_used"] > 0
    frame.loc[3, "pain"] = "lots"  # a bad cell: named by sheet/row and column
    if kind == "xlsx":
        frame.to_excel(path, index=False, sheet_name="Diary")
    else:
        frame.to_parquet(path, index=False)
    data = files()
    data["diary"] = (io.BytesIO(path.read_bytes()), path.name)
    bad = client.post("/api/analyze", data=data)
    assert bad.status_code == 400 and "pain" in bad.get_json()["error"]
    where = "sheet 'Diary', row 5" if kind == "xlsx" else "row 4"  # header row 1; Parquet rows
    assert where in bad.get_json()["error"], bad.get_json()["error"]


def test_a_file_name_with_a_path_is_used_in_messages_only(client):
    data = {"protocol": (io.BytesIO(b"not toml ["), "../../../../etc/passwd")}
    response = client.post("/api/schedule", data=data)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith("passwd: line 1, column 5: not valid TOML") and "/etc" not in error
    assert "root:" not in response.get_data(as_text=True)
    for url in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd"):
        assert client.get(url).status_code == 404


# -- security -------------------------------------------------------------------------------------


def test_a_foreign_host_header_is_refused(client):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example"):
        response = client.post("/api/schedule", data=files(diary=False), headers={"Host": host})
        assert response.status_code == 400
        assert "does not serve the host" in response.get_json()["error"]
    assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_served_hosts_with_a_port_match_only_that_port():
    client = create_app(served_hosts=["127.0.0.1:8765"]).test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:9999"}).status_code == 400


def test_an_api_call_from_another_site_is_refused(client):
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file on disk
        {"Sec-Fetch-Site": "cross-site"},
    ):
        response = client.post("/api/schedule", data=files(diary=False), headers=headers)
        assert response.status_code == 403
    # the app's own form posts say "Origin: null" (Referrer-Policy no-referrer): the CSRF token
    # protects them
    csrf = field_values(client.get("/trial").get_data(as_text=True))["csrf_token"]
    posted = client.post("/trial", data=files(csrf_token=csrf), headers={"Origin": "null"})
    assert posted.status_code == 200


def test_with_a_token_every_request_needs_it():
    client = create_app(token=TOKEN).test_client()
    response = client.post("/api/schedule", data=files(diary=False))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
    assert client.post("/api/schedule", data=files(diary=False), headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/schedule", data=files(diary=False), headers=right).status_code == 200
    for url in ("/", "/design", "/trial"):
        page = client.get(url)
        assert page.status_code == 401 and 'name="token"' in page.get_data(as_text=True)
    assert client.get("/", headers=right).status_code == 200
    assert client.get("/static/style.css").status_code == 200  # public: it holds no data
    assert client.get("/login").status_code == 200


def test_the_login_form_opens_a_session_and_checks_csrf():
    client = create_app(token=TOKEN).test_client()
    login = client.get("/login")
    csrf = field_values(login.get_data(as_text=True))["csrf_token"]
    assert client.post("/login", data={"token": TOKEN}).status_code == 400  # no CSRF token
    bad = client.post("/login", data={"token": "wrong", "csrf_token": csrf})
    assert bad.status_code == 401
    good = client.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "/trial"})
    assert good.status_code == 302 and good.headers["Location"] == "/trial"
    assert client.get("/trial").status_code == 200
    assert client.post("/api/schedule", data=files(diary=False)).status_code == 200
    for target in ("//evil.example", "/\\evil.example", "https://evil.example"):
        other = create_app(token=TOKEN).test_client()
        csrf = field_values(other.get("/login").get_data(as_text=True))["csrf_token"]
        sent = {"token": TOKEN, "csrf_token": csrf, "next": target}
        assert other.post("/login", data=sent).headers["Location"] == "/"  # no open redirect


def test_forms_need_the_csrf_token(client):
    response = client.post("/trial", data=files())
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    csrf = field_values(client.get("/trial").get_data(as_text=True))["csrf_token"]
    forged = client.post("/trial", data=files(csrf_token="x" * len(csrf)))
    assert forged.status_code == 400
    assert client.post("/trial", data=files(csrf_token=csrf)).status_code == 200


def test_every_response_sets_the_security_headers(client):
    for response in (client.get("/"), client.post("/api/schedule", data=files(diary=False))):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "http" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_session_key_is_random_per_process():
    assert create_app().secret_key != create_app().secret_key
    assert len(create_app().secret_key) == 32


def test_pages_reference_nothing_outside_the_app(client):
    for url in ("/", "/design", "/trial"):
        html = client.get(url).get_data(as_text=True)
        assert "http://" not in html and "https://" not in html
        assert "<script>" not in html and " style=" not in html  # no inline script or style


@pytest.mark.parametrize("host", ["192.168.1.20", "example.org", "0.0.0.0", "::"])
def test_serve_refuses_another_host_without_a_token_and_any_wildcard(host):
    with pytest.raises(ServeError, match="--host"):
        make_server(host, 0)


def test_serve_command_refuses_with_one_line_and_exit_2():
    result = CliRunner().invoke(cli, ["serve", "--host", "10.1.2.3", "--no-browser"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--token" in result.stderr


def test_serve_binds_loopback_and_answers_its_own_host_only():
    server = make_server("127.0.0.1", 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        client = server.app.test_client()
        port = server.server_port
        assert client.get("/", headers={"Host": f"127.0.0.1:{port}"}).status_code == 200
        assert client.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200
        assert client.get("/", headers={"Host": "127.0.0.1:1"}).status_code == 400
    finally:
        server.server_close()


def test_flask_is_not_imported_by_nof1_or_its_cli():
    code = "import sys, nof1, nof1.cli; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the pages ------------------------------------------------------------------------------------


class _Fields(HTMLParser):
    """Name -> value of the inputs, selects and textareas a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("file", "submit"):
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                return
            self.values[name] = a.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in self.values:
                self.values[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def field_values(html: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(html)
    return parser.values


def design_form(client, **changes: str) -> dict[str, str]:
    values = field_values(client.get("/design").get_data(as_text=True))
    values.pop("action", None)  # the "load a file" form's hidden field
    values.update(changes)
    return values


def test_the_design_form_starts_from_the_example_and_downloads_it(client, monkeypatch, tmp_path):
    form = design_form(client, action="download_protocol")
    response = client.post("/design", data=form)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="protocol.toml"'
    written = tmp_path / "protocol.toml"
    written.write_bytes(response.data)
    check = CliRunner().invoke(cli, ["check", str(written)])
    assert check.exit_code == 0, check.output
    from nof1.trial.protocol import Protocol

    assert Protocol.load(written) == Protocol.load(EXAMPLE_PROTOCOL)  # every key came through


@pytest.mark.parametrize(("what", "command"), [("schedule", "schedule"), ("diary", "template")])
def test_the_design_downloads_equal_the_cli_files(client, tmp_path, what, command):
    form = design_form(client, action=f"download_{what}")
    response = client.post("/design", data=form)
    assert response.status_code == 200
    out = tmp_path / "cli.csv"
    CliRunner().invoke(cli, [command, str(EXAMPLE_PROTOCOL), "--out", str(out)])
    assert response.data == out.read_bytes()


def test_the_design_form_reports_problems_in_the_words_of_nof1_check(client):
    form = design_form(client, **{"design-cycles": "0", "rule-0-column": "Pain"})
    html = client.post("/design", data=form).get_data(as_text=True)
    assert "protocol.toml: design.cycles = 0 must be a whole number from 1 to 100" in html
    assert "stop_rules[1] (Severe pain flare).column = &#39;Pain&#39; is neither" in html
    form["action"] = "download_protocol"
    refused = client.post("/design", data=form)
    assert refused.status_code == 400 and "attachment" not in refused.headers.get(
        "Content-Disposition", ""
    )
    live = client.post("/design/check", data=form).get_json()
    assert not live["ok"] and any("design.cycles = 0" in p for p in live["problems"])


def test_the_design_page_shows_power_min_p_and_schedule(client):
    html = " ".join(client.get("/design").get_data(as_text=True).split())
    assert 'id="power-value"' in html and "autocorrelation 0.4" in html  # the default rho
    # 16 admissible allocations of 4 randomized pairs: one-sided 1/16, two-sided 2/16
    assert "<strong>0.0625</strong> one-sided, 0.125 two-sided (16 admissible" in html
    assert "CT CT TC CT" in html


def test_add_rows_offers_more_empty_stop_rules(client):
    form = design_form(client, action="add_rows")
    before = int(form["rule-count"])
    html = client.post("/design", data=form).get_data(as_text=True)
    assert field_values(html)["rule-count"] == str(before + 2)


def trial_page(client, **data) -> tuple[int, str]:
    csrf = field_values(client.get("/trial").get_data(as_text=True))["csrf_token"]
    response = client.post("/trial", data={**data, "csrf_token": csrf})
    return response.status_code, response.get_data(as_text=True)


def test_check_a_trial_shows_the_status_first_then_the_report(client, monkeypatch, tmp_path):
    status, html = trial_page(client, **files())
    assert status == 200
    assert html.index('id="status-word">REVIEW<') < html.index("Rules that fired")
    assert "2026-03-24: 16, 2026-03-25: 14" in html  # the values that made the event
    hidden = {k: v for k, v in field_values(html).items() if k not in ("audience", "what")}
    response = client.post("/trial/report", data={**hidden, "audience": "clinician"})
    assert "'unsafe-inline'" in response.headers["Content-Security-Policy"]
    monkeypatch.chdir(DATA)
    report = tmp_path / "report.html"
    CliRunner().invoke(cli, ["analyze", PROTOCOL_NAME, DIARY_NAME, "--report", str(report)])
    assert response.get_data(as_text=True) == report.read_text(encoding="utf-8")
    download = client.post("/trial/download", data={**hidden, "what": "monitor"})
    assert download.headers["Content-Disposition"] == 'attachment; filename="monitor.json"'
    assert download.get_json()["status"] == "review"


def test_check_a_trial_shows_a_bad_diary_with_its_line(client):
    status, html = trial_page(client, **files(diary=bad_diary()))
    assert status == 400
    assert "kratom_diary.csv, line 6, column &#39;pain&#39;: 11 is outside" in html
    assert "status-word" not in html


def test_a_protocol_without_stop_rules_reads_as_the_library_says(client):
    text = EXAMPLE_PROTOCOL.read_text(encoding="utf-8")
    no_rules = text[: text.index("[[stop_rules]]")].encode("utf-8")
    status, html = trial_page(client, **files(protocol=no_rules))
    assert status == 200 and 'id="status-word">CONTINUE<' in html  # monitor(...).status
    assert "the protocol has no stop rules, so there was nothing to check" in html


def test_the_trial_page_shows_the_library_status_with_rules_not_due_yet(client):
    from nof1.diary.read import read_diary
    from nof1.safety.monitor import monitor
    from nof1.safety.render import status_line
    from nof1.trial.protocol import Protocol

    protocol = Protocol.load(EXAMPLE_PROTOCOL)
    checked = monitor(protocol, read_diary(EXAMPLE_DIARY, protocol), as_of="2026-01-27")
    assert checked.status == "continue" and checked.not_checked  # some rules not due yet
    status, html = trial_page(client, **files(as_of="2026-01-27"))
    assert status == 200 and 'id="status-word">CONTINUE<' in html
    shown = html[html.index('class="status-line">') :]
    line = status_line(checked).removeprefix("CONTINUE: ")  # the library's words, after the word
    assert shown.startswith(f'class="status-line">{line}<')
    listed = html[html.index("<h2>Rules not checked</h2>") :]
    for rule, why in checked.not_checked:  # listed under the headline, with their reasons
        assert f"<strong>{rule}</strong>: {why}</li>" in listed


def test_pages_escape_what_the_files_say(client):
    text = EXAMPLE_PROTOCOL.read_text(encoding="utf-8")
    evil = text.replace('id = "KRATOM-FM-001"', 'id = "<script>alert(1)</script>"')
    status, html = trial_page(client, **files(protocol=evil.encode("utf-8")))
    assert status == 200
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_nothing_is_written_outside_a_private_folder_that_is_removed(client, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client.post("/design", data=design_form(client, action="download_diary"))
    assert list(Path(tmp_path).iterdir()) == []


def test_the_form_writes_every_protocol_key_it_offers():
    import datetime as dt

    from nof1.web.protocol_form import DesignForm, form_from_document, protocol_document

    rule = {"for_days": "", "within_days": "", "during": "any"}
    form = DesignForm(
        trial={"id": "T-9", "start": "2026-01-05", "blinding": "double", "patient": "P"},
        design={"scheme": "random", "cycles": "3", "period_days": "7", "max_run": "2",
                "seed": "5", "sequence": "TCT CTC", "washout_days": "", "run_in_days": "0"},
        analysis={"alpha": "0.1", "min_days_per_period": "3", "trend": "true"},
        prior={"kind": "normal-inverse-gamma", "mu0": "0", "kappa0": "1", "alpha0": "2",
               "beta0": "3.5"},
        outcomes=[{"name": "pain", "label": "", "min": "0", "max": "10", "better": "lower",
                   "mcid": "1"}, {"name": "", "label": "", "min": "", "max": "", "mcid": "",
                                  "better": "lower"}],
        columns=[{"name": "ae", "categories": "none, mild, serious"},
                 {"name": "", "categories": ""}],
        rules=[
            {**rule, "name": "A", "condition": "in", "column": "ae", "value": "mild, serious",
             "action": "stop"},
            {**rule, "name": "B", "condition": "at_least", "column": "pain", "value": "9",
             "for_days": "3", "within_days": "7", "during": "treatment", "action": "review"},
            {**rule, "name": "C", "condition": "missing_days", "column": "", "value": "3",
             "action": "review"},
            {**rule, "name": "D", "condition": "probability_of_harm_at_least", "column": "pain",
             "value": "0.9", "action": "stop"},
            {**rule, "name": "", "condition": "at_least", "column": "", "value": "",
             "action": "review"},
        ],
    )  # fmt: skip
    doc = protocol_document(form)
    assert doc == {
        "trial": {"id": "T-9", "start": dt.date(2026, 1, 5), "blinding": "double", "patient": "P"},
        "design": {"scheme": "random", "cycles": 3, "period_days": 7, "run_in_days": 0,
                   "seed": 5, "max_run": 2, "sequence": "TCT CTC"},
        "diary": {"columns": ["ae"], "categories": {"ae": ["none", "mild", "serious"]}},
        "outcomes": [{"name": "pain", "min": 0, "max": 10, "better": "lower", "mcid": 1,
                      "primary": True}],
        "analysis": {"alpha": 0.1, "min_days_per_period": 3, "trend": True,
                     "prior": {"kind": "normal-inverse-gamma", "mu0": 0, "kappa0": 1,
                               "alpha0": 2, "beta0": 3.5}},
        "stop_rules": [
            {"name": "A", "column": "ae", "in": ["mild", "serious"], "action": "stop"},
            {"name": "B", "column": "pain", "at_least": 9, "for_days": 3, "within_days": 7,
             "during": "treatment", "action": "review"},
            {"name": "C", "missing_days": 3, "action": "review"},
            {"name": "D", "outcome": "pain", "probability_of_harm_at_least": 0.9,
             "action": "stop"},
        ],
    }  # fmt: skip
    assert protocol_document(form_from_document(doc)) == doc  # and back: nothing lost


def test_text_in_a_number_field_is_reported_not_guessed(client):
    form = design_form(client, **{"design-cycles": "four", "trial-start": "5 Jan"})
    live = client.post("/design/check", data=form).get_json()
    assert (
        "protocol.toml: design.cycles = 'four' must be a whole number from 1 to 100"
        in live["problems"]
    )
    assert (
        "protocol.toml: trial.start = '5 Jan' is not a date; dates are written 2026-10-15"
        in (live["problems"])
    )


WRONG_SHAPES = b"trial = 5\noutcomes = 'pain'\nstop_rules = [1, 2]\n[diary]\ncolumns = 'x'\n"


@pytest.mark.parametrize(
    ("text", "status", "shown"),
    [
        (EXAMPLE_PROTOCOL.read_bytes(), 200, "No problems: this protocol passes"),
        (WRONG_SHAPES, 200, "protocol.toml: trial.id is missing; it must be text"),
        (b"[trial\n", 400, "mine.toml: not a protocol file that can be read"),
        (None, 400, "choose a protocol file"),
    ],
)
def test_a_protocol_file_loads_into_the_form_whatever_it_holds(client, text, status, shown):
    csrf = field_values(client.get("/design").get_data(as_text=True))["csrf_token"]
    data = {"action": "load", "csrf_token": csrf}
    if text is not None:
        data["protocol"] = (io.BytesIO(text), "mine.toml")
    response = client.post("/design", data=data)
    assert response.status_code == status
    assert shown in response.get_data(as_text=True)


def test_uploads_are_held_in_memory(client, monkeypatch):
    import tempfile

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was written to a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    big = EXAMPLE_DIARY.read_bytes() + b"\n" * 700_000  # past werkzeug's 500 kB spooling size
    response = client.post("/api/monitor", data=files(diary=big))
    assert response.status_code == 200


def test_serve_takes_the_token_from_the_environment(monkeypatch):
    import nof1.web.server as server_module

    seen = {}

    def fake_make_server(host, port, token, max_upload_bytes, workspace=None):
        seen.update(host=host, token=token, limit=max_upload_bytes)
        raise ServeError("stop here")

    monkeypatch.setattr(server_module, "make_server", fake_make_server)
    monkeypatch.setenv("NOF1_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["serve", "--host", "10.1.2.3", "--max-upload-mb", "1"])
    assert result.exit_code == 2 and "stop here" in result.stderr
    assert seen == {"host": "10.1.2.3", "token": TOKEN, "limit": 1024 * 1024}


def test_the_report_and_download_keep_the_as_of_the_page_checked(client):
    # entries end on 2026-02-14; checked as of 2026-05-03 the 'Diary not kept' rule fires
    # (review) where the analysis's own default date (the last entry) would read continue
    lines = EXAMPLE_DIARY.read_text(encoding="utf-8").splitlines()[:41]
    cut = ("\n".join(lines) + "\n").encode("utf-8")
    status, html = trial_page(client, **files(diary=cut), as_of="2026-05-03")
    assert status == 200 and 'id="status-word">REVIEW<' in html
    hidden = {k: v for k, v in field_values(html).items() if k not in ("audience", "what")}
    report = client.post("/trial/report", data={**hidden, "audience": "clinician"})
    page = report.get_data(as_text=True)
    summary = page[page.index("safety-summary") : page.index("Details under Safety")]
    assert "REVIEW" in summary and "Diary not kept" in summary and "CONTINUE" not in summary
    download = client.post("/trial/download", data={**hidden, "what": "analysis"})
    safety = json.loads(download.get_data(as_text=True))["safety"]
    assert safety["status"] == "review" and safety["as_of"] == "2026-05-03"
