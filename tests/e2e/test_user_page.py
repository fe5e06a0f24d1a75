"""The user page in a real browser against the real server: daphne + link worker + PBX simulator.

Debian's chromium (Playwright) signs in at /accounts/login/, presses buttons and watches the page
change; the simulator shows what reached the PBX. Nothing is mocked: the press goes HTTP → trigger
row → link worker → SetPresence over a websocket → PresenceUpdate → Channels group → the page.
How fast the page answers (the issue's "within a second") is measured by tests/bench/bench_user_page.py.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from licensing.models import Seat
from presence.models import LinkStatus, PbxUser, Preset, ServiceSettings
from tests.e2e.conftest import screenshot
from tests.e2e.stack import wait_until
from triggers.models import Trigger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "a long browser password"
GREEN, YELLOW, RED, PURPLE = "rgb(186, 219, 140)", "rgb(255, 208, 99)", "rgb(255, 145, 143)", "rgb(203, 140, 219)"


@pytest.fixture
def buttons(rules) -> dict[str, Preset]:
    """The page's buttons. The e2e rules' own presets stay off the page, except "Available"."""
    available = rules["available"]
    available.show_on_user_page, available.order = True, 1
    available.save()
    return {
        "available": available,
        "away": Preset.objects.create(name="Away", activity="away", note="Back soon", show_on_user_page=True, order=2),
        "busy": Preset.objects.create(name="Busy", activity="busy", note="Heads down", show_on_user_page=True, order=3),
    }


@pytest.fixture
def person(sim_users, transactional_db):
    """user0 of the simulated PBX and a Django account with the same name to sign in with."""
    get_user_model().objects.create_user(sim_users[0].h323, password=PASSWORD)
    return sim_users[0]


def subscribed(user) -> None:
    """The link has the user's presence from the PBX (SubscribePresence answered)."""
    wait_until(lambda: PbxUser.objects.get(guid=user.guid).presence, 60, message="the user's presence")


def sign_in(page, server, username: str) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_url(f"{server.url}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    expect(page.locator("#live")).to_have_text("Live")


def swatch(page) -> str:
    return page.eval_on_selector("#presence-swatch", "e => getComputedStyle(e).backgroundColor")


def press(page, name: str) -> None:
    """Click the button named `name`."""
    page.get_by_role("button", name=name).click()


def sent_to(sim, guid: str) -> list[dict]:
    return [m for m in sim.simulator.received if m.get("guid") == guid]


def test_a_user_signs_in_presses_away_and_sees_phone_changes_live(page, server, sim, person, buttons):
    subscribed(person)
    sign_in(page, server, person.h323)
    expect(page.locator("#user-name")).to_have_text("User 0")
    expect(page.locator("#presence-label")).to_have_text("Available")
    assert swatch(page) == GREEN
    names = page.locator("button.preset").evaluate_all("buttons => buttons.map(b => b.dataset.name)")
    assert names == ["Available", "Away", "Busy"]  # in the admin's order; other presets not offered
    page.evaluate("window.notReloaded = true")

    press(page, "Away")
    expect(page.locator("#status")).to_have_text("Done: “Away” is set.")
    expect(page.locator("#presence-label")).to_have_text("Away")
    expect(page.locator("#presence-note")).to_have_text("Back soon")
    wait_until(lambda: swatch(page) == YELLOW, 30, message="the colour to change")
    sent = sent_to(sim, person.guid)
    assert [(m["activity"], m["note"], m["contact"]) for m in sent] == [("away", "Back soon", "tel:")]
    trigger = Trigger.objects.get(source="button")
    assert (trigger.status, trigger.pbx_user.guid, trigger.user_value) == ("applied", person.guid, person.h323)
    assert trigger.decision["requested_preset"] == buttons["away"].pk and trigger.decision["preset"] == "Away"

    # As if from the phone or myApps: the page follows without a reload.
    sim.call(sim.simulator.set_presence_from_phone, person.guid, "dnd", "In a call")
    expect(page.locator("#presence-label")).to_have_text("Do not disturb")
    expect(page.locator("#presence-note")).to_have_text("In a call")
    wait_until(lambda: swatch(page) == PURPLE, 30, message="the colour to follow the phone")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "user-page")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.get_by_role("button", name="Busy").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] >= 48  # full-width, thumb-sized
    screenshot(page, "user-page-phone")


def test_the_page_says_plainly_while_the_pbx_is_down_and_shows_the_press_applied_later(
    page, server, sim, person, buttons
):
    subscribed(person)
    sign_in(page, server, person.h323)
    sim.call(sim.simulator.go_down)
    wait_until(lambda: not LinkStatus.objects.get().connected, 30, message="the link to notice")

    press(page, "Busy")
    expect(page.locator("#status")).to_contain_text("The phone system cannot be reached right now. “Busy” is saved")
    pressed_at = Trigger.objects.get(source="button").received_at
    # The worker goes on trying the PBX after the press, and the press stays queued meanwhile: wait
    # for a status written after the press, then for an attempt at the PBX that came after that one.
    status = wait_until(
        lambda: LinkStatus.objects.filter(updated_at__gt=pressed_at).first(), 30, message="a status after the press"
    )
    wait_until(lambda: LinkStatus.objects.get().reconnects > status.reconnects, 60, message="another attempt")
    assert Trigger.objects.get(source="button").status == "queued"
    expect(page.locator("#status")).to_contain_text("cannot be reached")  # still said, not replaced by a guess
    screenshot(page, "user-page-pbx-down")

    sim.call(sim.simulator.come_back)
    expect(page.locator("#status")).to_have_text("Done: “Busy” is set.", timeout=90_000)  # after the back-off
    expect(page.locator("#presence-label")).to_have_text("Busy")
    wait_until(lambda: swatch(page) == RED, 30, message="the colour to change")
    assert [m["activity"] for m in sent_to(sim, person.guid)] == ["busy"]


def test_an_unlicensed_user_is_told_at_once_and_nothing_reaches_the_pbx(page, server, sim, person, buttons, key):
    Seat.objects.filter(user_guid=person.guid).delete()
    sign_in(page, server, person.h323)
    expect(page.locator("#licence-refusal")).to_contain_text("not licensed")
    press(page, "Away")
    expect(page.locator("#status")).to_contain_text("This user is not licensed")
    # A licensed colleague's lock, posted after the press, reaches the PBX: the worker has had its turn.
    colleague = sim.simulator.users[2]
    assert server.post(key, {"user": colleague.h323, "event": "lock"})[0] == 202
    wait_until(lambda: sent_to(sim, colleague.guid), 60, message="the colleague's lock at the PBX")
    assert sent_to(sim, person.guid) == []
    assert list(Trigger.objects.filter(pbx_user__guid=person.guid).values_list("status", "http_status")) == [
        ("refused", 403)
    ]


def test_another_users_presence_cannot_be_changed_through_the_page_endpoint_or_socket(
    page, server, sim, person, buttons
):
    other = sim.simulator.users[1]
    subscribed(person)
    sign_in(page, server, person.h323)
    before = sim.simulator.presence_of(other.guid)
    other_id = PbxUser.objects.get(guid=other.guid).pk

    # A crafted request from the signed-in page: every way of naming user1 is ignored.
    answer = page.evaluate(
        """async ([url, token, other, otherId]) => {
            const body = new URLSearchParams({user: other, pbx_user: otherId});
            const r = await fetch(url + "?user=" + other, {method: "POST", body,
                headers: {"X-CSRFToken": token}, credentials: "same-origin"});
            return [r.status, await r.json()];
        }""",
        [
            f"/api/ui/presets/{buttons['busy'].pk}/press",
            page.evaluate("JSON.parse(document.getElementById('page-config').textContent).csrfToken"),
            other.h323,
            other_id,
        ],
    )
    assert answer[0] == 202
    wait_until(lambda: Trigger.objects.get(pk=answer[1]["id"]).status == "applied", 60, message="the press")
    assert not Trigger.objects.filter(pbx_user_id=other_id).exists()

    # Without the CSRF token the same request is refused.
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", credentials: "same-origin"})).status""",
        f"/api/ui/presets/{buttons['busy'].pk}/press",
    )
    assert status == 403

    # The socket, with the user's own session: it answers only with the user's own presence and
    # takes no command, whatever it names.
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    url = server.url.replace("http://", "ws://") + "/ws/presence/"
    with connect(url, origin=server.url, additional_headers={"Cookie": f"sessionid={session}"}) as socket:
        first = json.loads(socket.recv(timeout=30))
        assert first["type"] == "presence" and first["activity"] == "busy"  # user0's, just pressed
        socket.send(json.dumps({"type": "press", "user": other.h323, "preset": buttons["away"].pk}))
        assert json.loads(socket.recv(timeout=30))["type"] == "error"
    # The user's own press after all that reaches the PBX: the worker has had its turn.
    press(page, "Away")
    expect(page.locator("#status")).to_have_text("Done: “Away” is set.")
    assert sent_to(sim, other.guid) == []
    assert not Trigger.objects.filter(pbx_user_id=other_id).exists()
    assert sim.simulator.presence_of(other.guid) == before

    # A page on another site cannot open the socket with the user's cookie (Origin check).
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="https://evil.example", additional_headers={"Cookie": f"sessionid={session}"})
    assert refused.value.response.status_code == 403


def test_switching_the_page_off_refuses_it_everywhere(page, server, sim, person, buttons):
    subscribed(person)
    sign_in(page, server, person.h323)
    token = page.evaluate("JSON.parse(document.getElementById('page-config').textContent).csrfToken")
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    options = ServiceSettings.current()
    options.offer_user_page = False
    options.save()

    def not_offered() -> bool:  # the server process caches the settings for a few seconds
        return page.goto(f"{server.url}/").status == 403

    wait_until(not_offered, 60, interval=0.5, message="the page to be switched off")
    expect(page.locator("h1")).to_have_text("This page is not offered")
    status = page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: "POST", headers: {"X-CSRFToken": token},
            credentials: "same-origin"})).status""",
        [f"/api/ui/presets/{buttons['away'].pk}/press", token],
    )
    assert status == 403
    url = server.url.replace("http://", "ws://") + "/ws/presence/"
    with pytest.raises(InvalidStatus) as refused:  # the consumer closes before accepting: HTTP 403
        connect(url, origin=server.url, additional_headers={"Cookie": f"sessionid={session}"})
    assert refused.value.response.status_code == 403
    assert not Trigger.objects.exists()
    screenshot(page, "user-page-not-offered")
