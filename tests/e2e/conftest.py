"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Without Debian's chromium the browser suites skip with a loud notice — except in CI (CI=true),
where every suite must run, so a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"

# Playwright's sync API and Django's live server both run their own threads; Django refuses ORM
# calls from a thread that has an event loop unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium():
    """One browser for the session; each test gets its own context (cookies) through `page`."""
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        message = f"Debian's chromium is not installed ({CHROMIUM}): apt-get install -y chromium"
        if _in_ci():
            pytest.fail(message)
        print("\n" + "!" * 78 + f"\n!! SKIPPING browser tests: {message}\n" + "!" * 78)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context and page; a screenshot lands in test-output/ when the test fails."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    """Save a screenshot into test-output/ (kept as evidence of what the page showed)."""
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def admin_login(page, live_server_url: str, username: str, password: str) -> None:
    page.goto(f"{live_server_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server_url}/admin/")
