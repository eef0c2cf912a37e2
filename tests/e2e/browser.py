"""Headless Chromium for the console's browser tests: Debian's chromium and chromium-driver.

Selenium is pointed at /usr/bin/chromedriver and the chromium it belongs to, so its
Selenium Manager never runs and nothing is downloaded. `make test` installs both when it
can (root with apt-get); without them the tests skip, except under CI, where a missing
browser is a failure rather than a silently smaller test run.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

CHROMEDRIVER = os.environ.get("CONSOLE_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CONSOLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = "install Debian's chromium and chromium-driver (`make test` does, as root with apt-get)"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements-dev.txt)"
    for what, path in (("chromedriver", CHROMEDRIVER), ("chromium", CHROMIUM)):
        if not Path(path).is_file() or not os.access(path, os.X_OK):
            return f"no {what} at {path}: {INSTALL_HINT}"
    return None


def require_browser() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the console's browser tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def start_chromium(width: int = 1280, height: int = 900):
    """A headless Chromium session; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    # Selenium logs every WebDriver exchange at DEBUG; a failing test's report needs none of it.
    logging.getLogger("selenium").setLevel(logging.INFO)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking", "--disable-sync",
                     f"--window-size={width},{height}", "--lang=en-GB"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to sandbox as root (CI containers)
    # The page's console messages (CSP violations, script errors) become readable by the test.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
