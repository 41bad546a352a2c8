"""Headless Chromium through Selenium, and the web app served on a free port in a thread.

Shared by the browser tests and docs/img/web_screenshots.py. Only Debian's Chromium and
chromedriver are used, by explicit path: Selenium Manager never runs and nothing is downloaded.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver",)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
)


def find(names: tuple[str, ...]) -> str | None:
    """The first of ``names`` on PATH (or in /usr/bin), else None."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
        if Path(f"/usr/bin/{name}").exists():
            return f"/usr/bin/{name}"
    return None


@contextmanager
def chromium(
    profile: Path, width: int = 1280, height: int = 1000, javascript: bool = True
) -> Iterator[object]:
    """A Selenium driver of headless Chromium with a fresh profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find(CHROMIUM), find(CHROMEDRIVER)
    if browser is None or driver_path is None:
        raise RuntimeError("apt-get install chromium chromium-driver: both are needed")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    if not javascript:
        setting = {"profile.managed_default_content_settings.javascript": 2}
        options.add_experimental_option("prefs", setting)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def served(token: str | None = None, workspace: Path | None = None) -> Iterator[str]:
    """The nof1 web app on a free localhost port, in a thread (keeping a clinic workspace in
    ``workspace`` when given); yields its URL."""
    from nof1.web.server import make_server, url_of

    server = make_server("127.0.0.1", 0, token, workspace=workspace)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url_of("127.0.0.1", server.server_port).rstrip("/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
