"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Without Debian's chromium the browser suites skip with a loud notice — except in CI (CI=true),
where every suite must run, so a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.services import in_ci

if TYPE_CHECKING:
    from tests.e2e.stack import Server

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
DOCS = OUTPUT.parent / "docs" / "screenshots"
BROWSER_WAIT_MS = 30_000

# Playwright's sync API and Django's live server both run their own threads; Django refuses ORM
# calls from a thread that has an event loop unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def chromium():
    """One browser per module; each test gets its own context (cookies) through `page`.

    Not per session: Playwright's sync API keeps an event loop running in the main thread while it
    is open, and pytest-asyncio cannot run the async tests of later modules next to it.
    """
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        message = f"Debian's chromium is not installed ({CHROMIUM}): apt-get install -y chromium"
        if in_ci():
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
    """A fresh browser context and page; a screenshot lands in test-output/ when the test fails.

    Waits (the page's and `expect`'s) give up after 30 s: generous, because the machine running the
    suite may be busy; how fast the page answers is measured by tests/bench/bench_user_page.py.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_WAIT_MS)
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(BROWSER_WAIT_MS)
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


def evidence(page, name: str, *, full_page: bool = True) -> None:
    """screenshot(), and the same into docs/screenshots/ when DOCS_SCREENSHOTS asks for it (the docs show
    these pages; `full_page=False` takes the viewport only there)."""
    screenshot(page, name)
    if os.environ.get("DOCS_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=full_page)


def admin_login(page, live_server_url: str, username: str, password: str) -> None:
    page.goto(f"{live_server_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server_url}/admin/")


SIM_PASSWORD = "sim-secret-password"


@pytest.fixture
def sim_users():
    """The simulated PBX's users; tests override this fixture to change the directory."""
    from presence.pbx.simulator import generate_users

    return generate_users(20)


@pytest.fixture
def sim(sim_users, settings):
    """A PBX simulator on its own thread; `.simulator` is the PbxSimulator, `.call()` runs its coroutines."""
    from presence.pbx.simulator import SimulatorThread

    thread = SimulatorThread(app=settings.PBX_APP, password=SIM_PASSWORD, users=sim_users)
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def rules(transactional_db):
    """Presets and event rules of our own: transactional tests flush the data migration's defaults."""
    from presence.models import EventRule, OverrideRule, Preset

    EventRule.objects.all().delete()
    OverrideRule.objects.all().delete()
    Preset.objects.all().delete()
    away = Preset.objects.create(name="Away – screen locked", activity="away", note="Screen locked since {time}")
    available = Preset.objects.create(name="Available", activity="", note="")
    off = Preset.objects.create(name="Offline – shut down", activity="away", note="Shut down")
    EventRule.objects.create(event="lock", action="preset", preset=away)
    EventRule.objects.create(event="unlock", action="restore")
    EventRule.objects.create(event="logon", action="preset", preset=available)
    EventRule.objects.create(event="shutdown", action="preset", preset=off)
    EventRule.objects.create(event="heartbeat-lost", action="preset", preset=off)
    return {"away": away, "available": available, "off": off}


@pytest.fixture
def licensed(sim_users, transactional_db):
    """Every simulated user's licence switch on (by GUID, before the directory is even replicated)."""
    from licensing.models import Seat

    Seat.objects.bulk_create([Seat(user_guid=u.guid) for u in sim_users])


@pytest.fixture
def key(transactional_db) -> str:
    from triggers.models import ApiKey

    return ApiKey.create("e2e")[1]


@contextmanager
def linked_server(sim, name: str = "server") -> Iterator[Server]:
    """`runheartbeat` against the simulator, handed over once the link is up and the directory replicated."""
    from presence.models import LinkStatus, PbxUser
    from tests.e2e.stack import Server, wait_until

    process = Server(sim.simulator.url, SIM_PASSWORD, name=name)
    try:
        wait_until(lambda: LinkStatus.objects.filter(connected=True).exists(), 60, message="the PBX link")
        count = len(sim.simulator.users)
        wait_until(lambda: PbxUser.objects.count() >= count, 60, message="the directory")
        yield process
    finally:
        process.stop()


@pytest.fixture
def server(sim, rules, licensed, key):
    """`runheartbeat` against the simulator, with the directory replicated and the link up."""
    with linked_server(sim) as process:
        yield process
