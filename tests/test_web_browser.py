"""The web page in a real browser: headless Chromium driven by Selenium against ``nof1 serve``.

Skipped when Debian's chromium and chromium-driver are not installed (.ci/run installs them).
The upload flows run with JavaScript switched off: the core pages work without it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("selenium")
pytest.importorskip("flask")

from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from browser_support import CHROMEDRIVER, CHROMIUM, chromium, find, served
from conftest import EXAMPLE_DIARY, EXAMPLE_PROTOCOL
from nof1.cli import cli
from nof1.trial.protocol import Protocol

if find(CHROMIUM) is None or find(CHROMEDRIVER) is None:
    pytest.skip("needs chromium and chromium-driver (Debian packages)", allow_module_level=True)

WAIT = 20
SAE = "Serious adverse event"


@pytest.fixture(scope="module")
def site():
    with served() as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile")) as driver:
        yield driver


@pytest.fixture(scope="module")
def no_js_browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile"), javascript=False) as driver:
        yield driver


def type_into(driver, name: str, text: str) -> None:
    box = driver.find_element(By.NAME, name)
    box.clear()
    box.send_keys(text)


def test_design_a_protocol_through_the_form_that_passes_nof1_check(site, browser, tmp_path):
    browser.get(site + "/design")
    type_into(browser, "design-cycles", "0")
    # the page's script re-checks as the clinician types, in the words of nof1 check
    WebDriverWait(browser, WAIT).until(
        ec.text_to_be_present_in_element((By.ID, "live-check"), "design.cycles = 0 must be")
    )
    type_into(browser, "design-cycles", "6")
    type_into(browser, "trial-id", "FM-TRIAL-7")
    count = int(browser.find_element(By.NAME, "rule-count").get_attribute("value"))
    empty = count - 2  # the first of the two empty rule rows
    type_into(browser, f"rule-{empty}-name", "Very tired")
    type_into(browser, f"rule-{empty}-column", "fatigue")
    type_into(browser, f"rule-{empty}-value", "9")
    type_into(browser, f"rule-{empty}-for_days", "2")
    browser.find_element(
        By.CSS_SELECTOR, f"select[name='rule-{empty}-action'] option[value=stop]"
    ).click()
    browser.find_element(By.CSS_SELECTOR, "button.primary[value=check]").click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "check-ok")))
    text = browser.find_element(By.CSS_SELECTOR, "pre.toml").get_attribute("textContent")
    path = tmp_path / "designed.toml"
    path.write_text(text, encoding="utf-8")
    check = CliRunner().invoke(cli, ["check", str(path)])
    assert check.exit_code == 0, check.output
    designed = Protocol.load(path)
    assert designed.trial.id == "FM-TRIAL-7" and designed.design.cycles == 6
    rule = designed.stop_rules[-1]
    assert (rule.name, rule.column, rule.value, rule.for_days, rule.action) == (
        "Very tired", "fatigue", 9.0, 2, "stop"
    )  # fmt: skip
    # 6 randomized pairs: 64 allocations, so the smallest one-sided p is 1/64
    assert "0.01562" in browser.find_element(By.ID, "min-p").text


CUT_OFF = """
// every text box and menu of the design form whose text does not fit its box: a text box whose
// content scrolls, a menu whose chosen option is wider than the box less its padding and arrow
const cut = [];
const canvas = document.createElement("canvas").getContext("2d");
for (const box of document.querySelectorAll("#design-form input[type=text], #design-form select")) {
  const style = getComputedStyle(box);
  if (box.tagName === "INPUT") {
    if (box.scrollWidth > box.clientWidth) cut.push([box.name, box.value]);
    continue;
  }
  canvas.font = style.font;
  const text = box.options[box.selectedIndex].text;
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const room = box.clientWidth - padding - 20;
  if (canvas.measureText(text).width > room) cut.push([box.name, text]);
}
return [window.innerWidth, cut];
"""


@pytest.mark.parametrize("width", [1200, 1280])
def test_the_design_form_shows_every_label_whole_at_desktop_widths(site, browser, width):
    # Issue 20: at 1200 px the outcome labels read "Average pai" and "Fatigue toda" (and the
    # stop rules' conditions "beyond ru"); at 1280 px the treatment was cut off.
    browser.set_window_size(width, 1000)
    try:
        browser.get(site + "/design")
        inner, cut = browser.execute_script(CUT_OFF)
        assert inner == width
        assert cut == []
        label = browser.find_element(By.NAME, "outcome-0-label")
        assert label.get_attribute("value") == "Average pain today (0-10)"
    finally:
        browser.set_window_size(1280, 1000)


def upload(driver, site: str, protocol, diary) -> None:
    driver.get(site + "/trial")
    driver.find_element(By.NAME, "protocol").send_keys(str(protocol))
    driver.find_element(By.NAME, "diary").send_keys(str(diary))
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()


def test_upload_the_example_and_read_its_status_without_javascript(site, no_js_browser):
    upload(no_js_browser, site, EXAMPLE_PROTOCOL, EXAMPLE_DIARY)
    word = WebDriverWait(no_js_browser, WAIT).until(
        ec.presence_of_element_located((By.ID, "status-word"))
    )
    assert word.text == "REVIEW"
    assert (
        "'Dose above plan' fired on 2026-03-22" in no_js_browser.find_element(By.ID, "status").text
    )
    # the clinician report opens in a new tab from the same upload
    no_js_browser.find_element(By.CSS_SELECTOR, "form[target=_blank] button").click()
    no_js_browser.switch_to.window(no_js_browser.window_handles[-1])
    WebDriverWait(no_js_browser, WAIT).until(ec.title_contains("KRATOM-FM-001"))
    assert "N-of-1 trial report" in no_js_browser.page_source
    no_js_browser.close()
    no_js_browser.switch_to.window(no_js_browser.window_handles[0])


def test_upload_a_bad_diary_and_read_the_error_with_its_line(site, no_js_browser, tmp_path):
    lines = EXAMPLE_DIARY.read_text(encoding="utf-8").splitlines()
    date, _pain, rest = lines[5].split(",", 2)
    lines[5] = f"{date},11,{rest}"  # line 6: pain 11 on a 0-10 scale
    bad = tmp_path / "diary.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upload(no_js_browser, site, EXAMPLE_PROTOCOL, bad)
    problem = WebDriverWait(no_js_browser, WAIT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".problems .problem"))
    )
    assert (
        problem.text
        == "diary.csv, line 6, column 'pain': 11 is outside the scale of 'pain', [0, 10]"
    )


def test_upload_a_series_zip_and_read_the_triage_without_javascript(site, no_js_browser, tmp_path):
    from test_web_series import example_files, zipped

    archive = tmp_path / "KRATOM-series.zip"
    archive.write_bytes(zipped(example_files(), "KRATOM-series"))
    no_js_browser.get(site + "/series")
    no_js_browser.find_element(By.NAME, "series").send_keys(str(archive))
    no_js_browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    word = WebDriverWait(no_js_browser, WAIT).until(
        ec.presence_of_element_located((By.ID, "status-word"))
    )
    assert word.text == "STOP"
    rows = no_js_browser.find_elements(By.CSS_SELECTOR, "#triage tbody tr")
    assert len(rows) == 12
    first = rows[0]
    assert first.find_element(By.CSS_SELECTOR, ".patient").text == "P-03"
    assert first.find_element(By.CSS_SELECTOR, ".status").text == "STOP"
    statuses = [r.find_element(By.CSS_SELECTOR, ".status").text for r in rows]
    order = ["STOP", "REVIEW", "NOT CHECKED", "CONTINUE"]
    assert statuses == sorted(statuses, key=order.index)
    # open P-03 from the same upload: the patient's own stop-rule check. The series page has a
    # #status-word too: wait until it is gone, or the wait below finds the old page's element
    # and reading it fails once the new page replaces it (a race a loaded machine loses)
    first.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(no_js_browser, WAIT).until(ec.staleness_of(first))
    word = WebDriverWait(no_js_browser, WAIT).until(
        ec.presence_of_element_located((By.ID, "status-word"))
    )
    assert word.text == "STOP"
    assert "P-03" in no_js_browser.find_element(By.ID, "status").text


# the clinic workspace (nof1 serve --workspace) -------------------------------------------------


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clinic") / "workspace"
    with served(workspace=folder) as url:
        yield url, folder


def new_page_word(driver, old) -> str:
    """The status word of the page that replaces ``old`` (an element of the page before)."""
    WebDriverWait(driver, WAIT).until(ec.staleness_of(old))
    return (
        WebDriverWait(driver, WAIT)
        .until(ec.presence_of_element_located((By.ID, "status-word")))
        .text
    )


def upload_to_trial(driver, diary, as_of: str) -> str:
    form = driver.find_element(By.ID, "upload")
    form.find_element(By.NAME, "diary").send_keys(str(diary))
    type_into(form, "as_of", as_of)
    form.find_element(By.CSS_SELECTOR, "button.primary").click()
    return new_page_word(driver, form)


def test_a_clinic_keeps_a_trial_its_stop_a_decision_and_a_new_stop(clinic, no_js_browser, tmp_path):
    import shutil

    from nof1 import example_paths
    from test_decisions import with_adverse_events

    site, folder = clinic
    driver = no_js_browser
    protocol, diary = example_paths()
    first, later = tmp_path / "export-1.csv", tmp_path / "export-2.csv"
    shutil.copy(diary, first)
    with_adverse_events(first, ["2026-02-02"])
    shutil.copy(diary, later)
    with_adverse_events(later, ["2026-02-02", "2026-03-10"])
    # the home page leads to the workspace; a trial is made from the packaged example protocol
    driver.get(site + "/")
    driver.find_element(By.ID, "workspace-card").click()
    form = WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "new-trial")))
    form.find_element(By.NAME, "protocol").send_keys(str(protocol))
    form.find_element(By.CSS_SELECTOR, "button.primary").click()
    assert new_page_word(driver, form) == "NOT CHECKED"  # no diary yet: never continue
    # a diary with a serious adverse event: STOP, the episode NEW
    assert upload_to_trial(driver, first, "2026-02-10") == "STOP"
    new = driver.find_element(By.ID, "new-episodes")
    episode = f"{SAE}@2026-02-02"
    assert new.find_element(By.CSS_SELECTOR, ".episode-id").text == episode
    assert "NEW" in new.text and "2026-02-02: serious" in new.text
    # the clinician looks at it and records: continue, with a name and a reason
    decide = new.find_element(By.CSS_SELECTOR, "form.decide")
    decide.find_element(By.NAME, "by").send_keys("Dr A. Jones")
    decide.find_element(By.NAME, "reason").send_keys("a fall, not the treatment")
    decide.find_element(By.CSS_SELECTOR, "button[value=continue]").click()
    assert new_page_word(driver, decide) == "CONTINUE"
    assert "decided CONTINUE by Dr A. Jones" in driver.find_element(By.ID, "new-episodes").text
    # a later export with a new serious event: STOP again, that episode NEW, the first decided
    assert upload_to_trial(driver, later, "2026-03-15") == "STOP"
    assert (
        "NEW: 'Serious adverse event' fired on 2026-03-10"
        in driver.find_element(By.ID, "status").text
    )
    ids = driver.find_elements(By.CSS_SELECTOR, "#new-episodes .episode-id")
    assert [e.text for e in ids] == [f"{SAE}@2026-03-10"]
    earlier = driver.find_element(By.ID, "earlier-episodes").text
    assert episode in earlier and "decided CONTINUE by Dr A. Jones" in earlier
    # the clinic list: the trial first, STOP, one NEW episode
    driver.find_element(By.LINK_TEXT, "Clinic workspace").click()
    row = WebDriverWait(driver, WAIT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#trials tbody tr"))
    )
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "STOP"
    assert row.find_element(By.CSS_SELECTOR, ".new").text == "1 NEW"
    # the files left behind pass the command line's check
    log = folder / "KRATOM-FM-001" / "monitor-log.jsonl"
    assert CliRunner().invoke(cli, ["verify-log", str(log)]).exit_code == 0
