"""Screenshots of every page of ``nof1 serve`` into docs/img/web-*.png, and of the clinician
report and patient page of the packaged example into docs/img/report.png and patient.png
(headless Chromium).

Run from the repository root: ``python docs/img/web_screenshots.py`` (needs the Debian packages
chromium and chromium-driver, and selenium).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from selenium.webdriver.common.by import By  # noqa: E402

from browser_support import chromium, served  # noqa: E402
from nof1 import example_paths  # noqa: E402

OUT = ROOT / "docs" / "img"


def shrink(path: Path) -> None:
    """A palette PNG: a quarter of the size, and the same to the eye for a page of flat colours."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def full_page(driver, path: Path, width: int) -> None:
    driver.set_window_size(width, 700)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 700), 4000))
    driver.save_screenshot(str(path))
    shrink(path)
    print(f"wrote {path.relative_to(ROOT)}")


def upload(driver, url: str, protocol: Path, diary: Path) -> None:
    driver.get(url + "/trial")
    driver.find_element(By.NAME, "protocol").send_keys(str(protocol))
    driver.find_element(By.NAME, "diary").send_keys(str(diary))
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()


def series(driver, url: str, tmp: Path) -> None:
    """The series page after uploading the packaged example series as a zip."""
    from test_web_series import example_files, zipped

    archive = tmp / "KRATOM-series.zip"
    archive.write_bytes(zipped(example_files(), "KRATOM-series"))
    driver.set_window_size(1200, 900)
    driver.get(url + "/series")
    driver.find_element(By.NAME, "series").send_keys(str(archive))
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    full_page(driver, OUT / "web-series.png", 1200)


def reports(driver, tmp: Path, protocol: Path, diary: Path) -> None:
    """The top of the clinician report and the whole patient page, as `nof1 analyze` writes."""
    from nof1 import analyze, read_diary
    from nof1.report.clinician import render_html
    from nof1.trial.protocol import Protocol

    loaded = Protocol.load(protocol)
    analysis = analyze(loaded, read_diary(diary, loaded))
    for name, audience, height in (("report", "clinician", 2300), ("patient", "patient", 1400)):
        page = tmp / f"{name}.html"
        page.write_text(render_html(analysis, audience=audience), encoding="utf-8")
        driver.set_window_size(1000, height)
        driver.get(page.as_uri())
        driver.save_screenshot(str(OUT / f"{name}.png"))
        shrink(OUT / f"{name}.png")
        print(f"wrote docs/img/{name}.png")


def main() -> None:
    protocol, diary = example_paths()
    with tempfile.TemporaryDirectory() as tmp, served() as url, chromium(Path(tmp) / "p") as d:
        reports(d, Path(tmp), protocol, diary)
        for name, path, width in (
            ("home", "/", 1100),
            ("design", "/design", 1280),
            ("design-tablet", "/design", 820),
            ("trial", "/trial", 1000),
        ):
            d.set_window_size(width, 900)
            d.get(url + path)
            full_page(d, OUT / f"web-{name}.png", width)
        d.set_window_size(1100, 900)
        upload(d, url, protocol, diary)
        full_page(d, OUT / "web-result.png", 1100)
        for i, name in enumerate(("report", "patient")):
            d.find_elements(By.CSS_SELECTOR, "form[target=_blank] button")[i].click()
            d.switch_to.window(d.window_handles[-1])
            if name == "report":  # the top of the clinician report (the whole file is long)
                d.set_window_size(1100, 1400)
                d.save_screenshot(str(OUT / "web-report.png"))
                shrink(OUT / "web-report.png")
                print("wrote docs/img/web-report.png")
            else:
                full_page(d, OUT / "web-patient.png", 1000)
            d.close()
            d.switch_to.window(d.window_handles[0])
        bad = Path(tmp) / "diary.csv"
        lines = diary.read_text(encoding="utf-8").splitlines()
        date, _pain, rest = lines[5].split(",", 2)
        lines[5] = f"{date},11,{rest}"  # line 6: pain 11 on a 0-10 scale
        bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
        upload(d, url, protocol, bad)
        full_page(d, OUT / "web-error.png", 1000)
        series(d, url, Path(tmp))


if __name__ == "__main__":
    main()
