"""The admin portal in a real browser: Debian's chromium driven by Playwright against a started offline runtime.

Playwright's own browser download does not work on these machines, so the system browser is launched
(`/usr/bin/chromium`, or CHROMIUM=...). Without it the browser tests skip, saying so; `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Platform, start_platform, stop_platform

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that reaches out: this machine's network is closed, and Chromium's background
# connections (updates, sync, QUIC probes) otherwise fail by the dozen at every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
DIST = ROOT / "admin-ui" / "dist"


def _built_portal() -> None:
    """The portal's build (make portal); built here when missing and npm is at hand, so `pytest` alone works."""
    if (DIST / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("admin-ui/dist is not built and npm is not installed: install Node.js 20+, then make portal")
    for step in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
        subprocess.run([npm, *step], cwd=ROOT / "admin-ui", check=True)


@pytest.fixture(scope="session")
def portal_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    _built_portal()
    base = tmp_path_factory.mktemp("portal-platform")
    running = start_platform(base / "state", base / "runtime.log")
    yield running
    stop_platform(running)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, portal_platform: Platform) -> Iterator[Any]:
    origin = portal_platform.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
