"""Browser fixtures shared by the console's Playwright tests: Debian's Chromium
(/usr/bin/chromium, installed by .ci/run) launched once per module, a zh-CN tab, and
full-page screenshots kept in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("SIYU_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Assertions wait as long as actions do. Playwright's 5 s default for `expect` was too short for
# a save that round-trips through PostgreSQL while the rest of the suite loads both cores
# (the graph editor's inline error arrived after 5 s in a CI run); a wrong page still fails.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Fail, never skip: a console without its browser test has not been tested.
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def zh_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """``screenshot(page, "1-name")``: the whole page, named after the test."""

    def take(page: Page, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        test_id = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{test_id}-{name}.png"), full_page=True)

    return take
