"""The report in a real browser: headless Chromium renders it, prints it, and fetches nothing.

Skipped when no Chromium binary is found (``apt-get install chromium`` on Debian).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from browser_support import FLAGS
from nof1 import analyze, read_diary
from nof1.trial.protocol import Protocol

pytest.importorskip("matplotlib")

from nof1.report import clinician as report

DATA = Path(__file__).resolve().parents[1] / "src" / "nof1" / "data"
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT = 60


def _chromium() -> str:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no Chromium binary found (looked for {', '.join(BINARIES)} on PATH)")


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        browser,
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish within {TIMEOUT} s: {' '.join(command)}")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    protocol = Protocol.load(DATA / "kratom_protocol.toml")
    analysis = analyze(protocol, read_diary(DATA / "kratom_diary.csv", protocol))
    folder = tmp_path_factory.mktemp("report")
    out = {}
    for audience in ("clinician", "patient"):
        path = folder / f"{audience}.html"
        path.write_text(report.render_html(analysis, audience=audience), encoding="utf-8")
        out[audience] = path
    return out


def _distinct_colours(png: Path) -> int:
    import matplotlib.image as mpimg

    image = mpimg.imread(png)  # floats in [0, 1], H x W x 3 or 4
    rgb = (image[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3)
    return len(np.unique(rgb, axis=0))


@pytest.mark.parametrize("audience", ["clinician", "patient"])
def test_chromium_renders_a_page_that_is_not_blank(pages, tmp_path, audience):
    browser = _chromium()
    png = tmp_path / "shot.png"
    _run(
        browser,
        tmp_path / "profile",
        f"--screenshot={png}",
        "--window-size=1200,2000",
        pages[audience].as_uri(),
    )
    assert png.exists() and png.stat().st_size > 5_000
    # text in several weights, shaded periods and plot lines: far more than a blank page's 1 colour
    assert _distinct_colours(png) > 50


def test_chromium_prints_the_report_to_pdf(pages, tmp_path):
    browser = _chromium()
    pdf = tmp_path / "report.pdf"
    _run(
        browser,
        tmp_path / "profile",
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        pages["clinician"].as_uri(),
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3


def test_the_rendered_dom_references_nothing_outside_the_file(pages, tmp_path):
    browser = _chromium()
    done = _run(browser, tmp_path / "profile", "--dump-dom", pages["clinician"].as_uri())
    dom = done.stdout.decode("utf-8", "replace")
    assert "<svg" in dom and "N-of-1 trial report" in dom
    assert "<script" not in dom
    for attr in re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', dom):
        assert attr.startswith("#") or attr.startswith("data:"), attr
    assert "http://" not in dom and "https://" not in dom
