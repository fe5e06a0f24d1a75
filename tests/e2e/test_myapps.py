"""The myApps apps in a real browser, inside the preview host of the real embedded default.

`runheartbeat` runs as `make run` starts it — no PBX_URL, so with its built-in PBX simulator, the
demo users and the two App objects — and Debian's chromium opens `/myapps/preview`, which frames
the app from the other loopback name (a cross-site frame, as in myApps) and answers its getLogin
with the Login the simulator signs. Nothing is mocked: a press goes app websocket → trigger row →
link worker → SetPresence to the simulator → PresenceUpdate → the page.

Where a test plays the man in the middle (replay, wrong password, tampering), it rewrites the
simulator's answer on its way to the host page with Playwright's routing: the service sees what
an attacker would hand it.

DOCS_SCREENSHOTS=1 also writes the screenshots of both apps into docs/screenshots/.
"""

from __future__ import annotations

import http.server
import threading
import time
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from licensing.models import Seat
from presence.demo import DEMO_USERS
from presence.models import AccountLink, PbxUser, Preset
from presence.myapps.accounts import GROUP_PERMISSIONS
from presence.myapps.verify import expected_digest, parse_login
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, evidence
from tests.e2e.stack import EmbeddedServer, wait_until
from tests.services import free_port
from triggers.models import Trigger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

MYAPPS_ENV = {"MYAPPS_USER_PASSWORD": "e2e user app password", "MYAPPS_ADMIN_PASSWORD": "e2e admin app password"}
DEMO = {h323: f"{n + 1:032x}" for n, (h323, _, _) in enumerate(DEMO_USERS)}  # the demo PBX's GUIDs
LIGHT, DARK = "rgb(243, 244, 246)", "rgb(28, 31, 34)"
SLOW = 20_000  # ms: a shared, busy machine; the events themselves are awaited, never a pause


@pytest.fixture
def demo_seats(transactional_db):
    """Licences for admin, alice, bob and carol; dave and erin have none."""
    Seat.objects.bulk_create([Seat(user_guid=DEMO[h323]) for h323 in ("admin", "alice", "bob", "carol")])


@pytest.fixture
def buttons(rules) -> list[Preset]:
    available = rules["available"]
    available.show_on_user_page, available.order = True, 1
    available.save()
    return [
        available,
        Preset.objects.create(name="Away", activity="away", note="Back soon", show_on_user_page=True, order=2),
        Preset.objects.create(name="Busy", activity="busy", note="Heads down", show_on_user_page=True, order=3),
        Preset.objects.create(
            name="Do not disturb", activity="dnd", note="In a meeting", show_on_user_page=True, order=4
        ),
    ]


@pytest.fixture
def embedded(demo_seats, buttons):
    """The embedded default with both myApps apps on, its demo directory replicated."""
    process = EmbeddedServer(**MYAPPS_ENV)
    try:
        wait_until(lambda: PbxUser.objects.count() >= len(DEMO), 60, message="the demo directory")
        wait_until(lambda: PbxUser.objects.get(h323="alice").presence, 30, message="alice's presence")
        yield process
    finally:
        process.stop()


def preview(page, server, query: str):
    page.goto(f"{server.url}/myapps/preview?{query}")
    return page.frame_locator("#app-frame")


def background(frame) -> str:
    return frame.locator("body").evaluate("body => getComputedStyle(body).backgroundColor")


def test_the_embedded_default_prints_the_preview_urls(embedded):
    wait_until(lambda: "myApps admin app preview" in embedded.output(), 10, message="the preview URLs")
    assert f"myApps user app preview:  {embedded.url}/myapps/preview?user=alice" in embedded.output()
    assert f"{embedded.url}/myapps/preview?app=admin&user=admin" in embedded.output()
    assert MYAPPS_ENV["MYAPPS_USER_PASSWORD"] not in embedded.output()


def test_the_preview_host_is_404_when_a_pbx_is_configured(server):
    for path in ("/myapps/preview?user=user0", "/myapps/preview/login?user=user0&app=presence-heartbeat&challenge=1"):
        with pytest.raises(HTTPError) as refused:
            urlopen(server.url + path)
        assert refused.value.code == 404


def test_alice_signs_in_through_getlogin_and_a_press_reaches_the_pbx(page, embedded):
    app = preview(page, embedded, "user=alice")
    expect(app.locator("#live")).to_have_text("Live", timeout=SLOW)
    expect(app.locator("#user-name")).to_have_text("Alice Smith")
    expect(app.locator("#presence-label")).to_have_text("Available")
    names = app.locator("button.preset").evaluate_all("buttons => buttons.map(b => b.dataset.name)")
    assert names == ["Available", "Away", "Busy", "Do not disturb"]
    log = page.locator("#messages")
    for line in ("app → myApps: Alive", "app → myApps: getLogin", "myApps → app: Login"):
        expect(log).to_contain_text(line)

    app.get_by_role("button", name="Away").click()
    expect(app.locator("#status")).to_have_text("Done: “Away” is set.", timeout=SLOW)
    expect(app.locator("#presence-label")).to_have_text("Away")
    expect(app.locator("#presence-note")).to_have_text("Back soon")
    # Applied means the simulator answered SetPresence; the stored presence came back in its PresenceUpdate.
    trigger = Trigger.objects.select_related("pbx_user").get(source="button")
    assert (trigger.status, trigger.key_name, trigger.user_value) == ("applied", "myApps user app", "alice")
    assert trigger.pbx_user.guid == DEMO["alice"]
    alice = PbxUser.objects.get(h323="alice")
    assert (alice.contact("tel:")["activity"], alice.contact("tel:")["note"]) == ("away", "Back soon")
    # The app's session was its websocket: no cookie at all for the framed site.
    assert [c for c in page.context.cookies() if c["domain"] == "localhost"] == []


def test_the_user_app_follows_myapps_scheme_and_language(page, embedded):
    app = preview(page, embedded, "user=alice&scheme=dark")
    expect(app.locator("#live")).to_have_text("Live", timeout=SLOW)
    assert background(app) == DARK
    evidence(page, "myapps-user-dark", full_page=False)
    page.get_by_role("button", name="Light").click()  # myApps posts SetScheme
    wait_until(lambda: background(app) == LIGHT, 10, message="the light scheme")
    evidence(page, "myapps-user-light", full_page=False)

    page.select_option("#lang", "de")  # myApps posts SetLang: the app reloads in German and signs in again
    expect(app.get_by_role("heading", name="Meine Präsenz setzen")).to_be_visible(timeout=SLOW)
    expect(app.locator("#presence-label")).to_have_text("Verfügbar")
    expect(app.locator("#live")).to_have_text("Live")


class Tamper:
    """Rewrites the simulator's Login on its way to the host page, as a man in the middle would."""

    def __init__(self) -> None:
        self.change = None
        self.seen: list[dict] = []

    def __call__(self, route) -> None:
        response = route.fetch()
        login = response.json()
        self.seen.append(login)
        challenge = parse_qs(urlsplit(route.request.url).query)["challenge"][0]
        if self.change is not None:
            login = self.change(login, challenge)
        route.fulfill(response=response, json=login)


def test_every_forged_or_refused_sign_in_is_refused_with_its_message(page, embedded):
    tamper = Tamper()
    page.route("**/myapps/preview/login?*", tamper)

    def refusal(user: str, change) -> str:
        tamper.change = change
        app = preview(page, embedded, f"user={user}")
        expect(app.locator("#refusal")).to_be_visible(timeout=SLOW)
        expect(app.locator("#app")).to_be_hidden()
        return app.locator("#refusal").inner_text()

    # A login captured from a good sign-in, handed in again on the next one.
    app = preview(page, embedded, "user=alice")
    expect(app.locator("#live")).to_have_text("Live", timeout=SLOW)
    captured = tamper.seen[-1]
    assert "already used once" in refusal("alice", lambda login, challenge: captured)

    def wrong_password(login, challenge):
        login["digest"] = expected_digest(parse_login(login), challenge, "not the App object password")
        return login

    assert "could not be verified" in refusal("alice", wrong_password)
    assert "could not be verified" in refusal("alice", lambda login, _: login | {"info": {**login["info"], "cn": "X"}})
    assert "could not be verified" in refusal("alice", lambda login, _: login | {"guid": DEMO["bob"], "sip": "bob"})

    # Signed correctly, but for a GUID our directory does not have.
    PbxUser.objects.filter(h323="carol").update(guid="c" * 32)
    assert "not known to this service" in refusal("carol", None)
    # The PBX gives erin no login: the app is not assigned to her.
    assert "myApps gave no sign-in for this app (app not assigned to this user)" in refusal("erin", None)

    # dave is signed in, but has no licence: told so, and nothing to press.
    tamper.change = None
    app = preview(page, embedded, "user=dave")
    expect(app.locator("#licence-refusal")).to_contain_text("You have no licence", timeout=SLOW)
    expect(app.locator("#user-name")).to_have_text("Dave Brown")
    assert app.locator("button.preset").count() == 0
    assert not Trigger.objects.exists()


def test_both_apps_work_with_third_party_cookies_blocked(chromium, embedded):
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"]
    )
    try:
        page = browser.new_page()
        app = preview(page, embedded, "user=bob")
        expect(app.locator("#live")).to_have_text("Live", timeout=SLOW)
        # Proof that the frame is third-party and its cookies are blocked: an ordinary cookie does not stick.
        stuck = app.locator("body").evaluate(
            "() => { document.cookie = 'probe=1; SameSite=None; Secure; Path=/'; return document.cookie; }"
        )
        assert "probe" not in stuck
        app.get_by_role("button", name="Busy").click()
        expect(app.locator("#status")).to_have_text("Done: “Busy” is set.", timeout=SLOW)
        expect(app.locator("#presence-label")).to_have_text("Busy")
        # The admin app's session cookie is partitioned (CHIPS): allowed where third-party cookies are not.
        admin = preview(page, embedded, "app=admin&user=admin")
        admin.locator("#overview-users-link").click(timeout=SLOW)
        expect(admin.get_by_role("switch", name="Licence for dave")).to_be_visible(timeout=SLOW)
    finally:
        browser.close()


def test_the_admin_app_signs_in_with_the_groups_rights_and_switches_licences_in_the_frame(page, embedded):
    superuser = get_user_model().objects.create_superuser("admin", "", "the superuser's own password")
    app = preview(page, embedded, "app=admin&user=admin&scheme=dark")
    expect(app.locator("#overview-users")).to_be_visible(timeout=SLOW)
    expect(app.locator("#pbx-link-status")).to_contain_text("connected")
    expect(app.locator("#overview-presets")).to_contain_text("Do not disturb")
    expect(app.locator("#overview-keys")).to_contain_text(f"{embedded.url}/api/v1/triggers")
    assert background(app) != LIGHT  # the admin's dark theme, as myApps said
    evidence(page, "myapps-admin-dark", full_page=False)

    account = AccountLink.objects.select_related("user").get(origin="myapps-admin", pbx_guid=DEMO["admin"]).user
    assert account.pk != superuser.pk and not account.is_superuser and account.is_staff
    assert account.get_all_permissions() == {f"{app_label}.{code}" for app_label, code in GROUP_PERMISSIONS}

    app.locator("#overview-users-link").click()
    toggle = app.get_by_role("switch", name="Licence for dave")
    expect(toggle).not_to_be_checked(timeout=SLOW)
    toggle.click()
    expect(toggle).to_be_checked()
    assert Seat.objects.filter(user_guid=DEMO["dave"]).exists()

    page.get_by_role("button", name="Light").click()  # SetScheme reaches the framed admin too
    wait_until(lambda: app.locator("html").get_attribute("data-theme") == "light", 10, message="the light theme")
    page.goto(f"{embedded.url}/myapps/preview?app=admin&user=admin&scheme=light")
    expect(app.locator("#overview-users")).to_be_visible(timeout=SLOW)
    evidence(page, "myapps-admin-light", full_page=False)


@pytest.fixture
def foreign_host():
    """A page on another origin that tries to frame the app and the admin."""
    port = free_port()
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", pages
    server.shutdown()
    server.server_close()


def frame_urls(page) -> list[str]:
    return [frame.url for frame in page.frames[1:]]


def frames_become(page, expected: list[str], timeout: float = 30) -> list[str]:
    """The child frames' URLs once they are `expected` (a refused frame turns into Chromium's error page a
    moment after "load", later on a busy machine); what they are at the timeout otherwise."""
    deadline = time.monotonic() + timeout
    while frame_urls(page) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright process the frames' navigation events
    return frame_urls(page)


def test_only_the_configured_origin_may_frame_myapps_pages_and_nothing_else_is_framed(page, embedded, foreign_host):
    app_url = f"http://localhost:{embedded.port}/myapps/user.htm?name=presence-heartbeat"
    admin_url = f"http://localhost:{embedded.port}/admin/login/"
    add_frame = "url => { const f = document.createElement('iframe'); f.src = url; document.body.append(f); }"

    # The preview host's origin is the configured one (embedded default): the app loads, /admin/ does not.
    page.goto(f"{embedded.url}/myapps/preview?user=alice")
    expect(page.frame_locator("#app-frame").locator("#live")).to_have_text("Live", timeout=SLOW)
    refused = "chrome-error://chromewebdata/"  # what Chromium shows in place of a frame it refuses
    with page.expect_event("framenavigated", predicate=lambda frame: frame.url == refused, timeout=SLOW):
        page.evaluate(add_frame, admin_url)
    assert frame_urls(page)[0].startswith(f"http://localhost:{embedded.port}/myapps/user.htm")

    # Another origin may frame neither (Chromium shows its error page in place of a refused frame).
    origin, pages = foreign_host
    pages["/"] = f'<iframe src="{app_url}"></iframe><iframe src="{admin_url}"></iframe>'.encode()
    page.goto(origin + "/")
    assert frames_become(page, [refused, refused]) == [refused, refused]
    with urlopen(app_url) as response:  # what refused it: the page itself is served, with its policy
        assert response.status == 200
        assert response.headers["Content-Security-Policy"] == (
            f"frame-ancestors http://127.0.0.1:{embedded.port} http://localhost:{embedded.port}"
        )
