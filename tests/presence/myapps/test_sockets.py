"""The app websockets over the real ASGI application: the sign-in, then the user app's session.

Logins are made by the simulated PBX for the challenge the socket issued, as myApps would; the
press goes through the user page's write path, and the link worker is watched through `link_sent`.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from heartbeat_site.asgi import application
from licensing.models import Seat
from presence.link.pagefeed import outcome_message, presence_group, presence_message
from presence.models import PbxUser, Preset, ServiceSettings
from presence.myapps.verify import expected_digest, parse_login
from tests.presence.myapps.conftest import ADMIN_APP, USER_APP
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_PRESENCE = [{"contact": "tel:", "status": "open", "activity": "away", "note": "At the dentist"}]


@pytest.fixture
async def sockets():
    """Opens app sockets; closes them and the worker thread's database connection afterwards."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(path: str = "/myapps/user", origin: str = "http://localhost") -> WebsocketCommunicator:
        headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect()
        assert connected
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.disconnect()
    await sync_to_async(connections.close_all)()


@pytest.fixture
def buttons(transactional_db) -> dict[str, Preset]:
    Preset.objects.update(show_on_user_page=False)
    return {
        "busy": Preset.objects.create(name="Busy now", activity="busy", show_on_user_page=True, order=2),
        "away": Preset.objects.create(name="Away now", activity="away", note="Soon", show_on_user_page=True, order=1),
        "hidden": Preset.objects.create(name="Holiday", activity="away", note="Holiday"),
    }


@pytest.fixture
def alice_away(alice):
    alice.dn = "Alice Liddell"
    alice.presence = ALICE_PRESENCE
    alice.save()
    return alice


async def sign_in(socket, pbx, user: str = "alice", app: str = USER_APP, tamper=None) -> dict:
    await socket.send_json_to({"mt": "AppChallenge"})
    challenge = await socket.receive_json_from()
    assert challenge["mt"] == "AppChallengeResult" and len(challenge["challenge"]) == 16
    login = pbx.app_login(app, user, challenge["challenge"])
    if tamper:
        tamper(login, challenge["challenge"])
    await socket.send_json_to({"mt": "AppLogin", **{k: v for k, v in login.items() if k != "mt"}})
    return await socket.receive_json_from()


async def test_the_user_app_signs_in_and_shows_presence_and_the_offered_buttons(sockets, pbx, alice_away, buttons):
    socket = await sockets()
    assert await sign_in(socket, pbx) == {"mt": "AppLoginResult", "ok": True}
    state = await socket.receive_json_from()
    assert state["mt"] == "UserState"
    assert (state["name"], state["login"], state["refusal"]) == ("Alice Liddell", "alice", None)
    assert state["presence"] | {"color": "", "mt": ""} == {
        "mt": "",
        "type": "presence",
        "activity": "away",
        "label": "Away",
        "note": "At the dentist",
        "color": "",
        "known": True,
    }
    assert [b["name"] for b in state["buttons"]] == ["Away now", "Busy now"]  # offered ones, in order


async def test_a_press_queues_a_button_trigger_for_the_signed_in_user_and_wakes_the_link(
    sockets, pbx, alice_away, buttons, announced
):
    socket = await sockets()
    await sign_in(socket, pbx)
    await socket.receive_json_from()
    await socket.send_json_to({"mt": "Press", "preset": buttons["busy"].pk, "src": "p1"})
    result = await socket.receive_json_from()
    assert result["mt"] == "PressResult" and result["src"] == "p1" and result["status"] == "queued"
    trigger = await Trigger.objects.select_related("pbx_user").aget(pk=result["id"])
    assert (trigger.source, trigger.key_name, trigger.user_value) == ("button", "myApps user app", "alice")
    assert trigger.pbx_user.guid == alice_away.guid and trigger.decision["requested_preset"] == buttons["busy"].pk
    assert announced == [trigger.pk], "the link worker was not woken"
    await socket.send_json_to({"mt": "PressStatus", "id": result["id"], "src": "s1"})
    status = await socket.receive_json_from()
    assert (status["mt"], status["src"], status["status"]) == ("PressStatusResult", "s1", "queued")
    assert status["id"] == result["id"]


async def test_the_socket_relays_the_own_presence_and_outcomes_only(sockets, pbx, alice_away, buttons):
    socket = await sockets()
    await sign_in(socket, pbx)
    await socket.receive_json_from()
    bob = await PbxUser.objects.aget(h323="bob")
    layer = get_channel_layer()
    await layer.group_send(presence_group(bob.pk), presence_message([{"contact": "tel:", "activity": "busy"}], "tel:"))
    await layer.group_send(presence_group(bob.pk), outcome_message(99, "applied", ""))
    phone = [{"contact": "tel:", "status": "open", "activity": "dnd", "note": "In a call"}]
    await layer.group_send(presence_group(alice_away.pk), presence_message(phone, "tel:"))
    await layer.group_send(presence_group(alice_away.pk), outcome_message(41, "failed", "PBX error 7"))
    presence = await socket.receive_json_from()
    assert (presence["mt"], presence["activity"], presence["label"], presence["note"]) == (
        "Presence",
        "dnd",
        "Do not disturb",
        "In a call",
    )
    assert await socket.receive_json_from() == {
        "mt": "Outcome",
        "id": 41,
        "status": "failed",
        "reason": "PBX error 7",
        "reason_text": "PBX error 7",
    }
    assert await socket.receive_nothing(timeout=0.2)  # bob's messages, sent first, never arrived


async def test_nothing_but_the_sign_in_works_before_the_login(sockets, buttons, alice):
    socket = await sockets()
    await socket.send_json_to({"mt": "Press", "preset": buttons["busy"].pk, "user": "alice"})
    reply = await socket.receive_json_from()
    assert reply["mt"] == "Error" and "Sign in first" in reply["error"]
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from())["mt"] == "Error"
    assert not await Trigger.objects.aexists()


async def test_a_refused_login_says_why_and_closes_the_socket(sockets, pbx, alice):
    socket = await sockets()

    def wrong_password(login, challenge):
        login["digest"] = expected_digest(parse_login(login), challenge, "wrong")

    result = await sign_in(socket, pbx, tamper=wrong_password)
    assert result["mt"] == "AppLoginResult" and result["ok"] is False and result["code"] == "bad_digest"
    assert "could not be verified" in result["error"]
    assert (await socket.receive_output())["type"] == "websocket.close"


async def test_a_refusal_is_in_myapps_language(sockets, pbx, alice):
    socket = await sockets("/myapps/user?lang=de")
    result = await sign_in(socket, pbx, user="mallory")
    assert result["code"] == "unknown_user" and "PBX-Benutzer" in result["error"]


async def test_an_unlicensed_user_is_told_so_and_gets_no_buttons(sockets, pbx, alice_away, buttons):
    await Seat.objects.filter(user_guid=alice_away.guid).adelete()
    socket = await sockets()
    await sign_in(socket, pbx)
    state = await socket.receive_json_from()
    assert state["refusal"]["code"] == "not_licensed" and "no licence" in state["refusal"]["detail"]
    assert state["buttons"] == []
    await socket.send_json_to({"mt": "Press", "preset": buttons["busy"].pk, "src": "p"})
    result = await socket.receive_json_from()
    assert result["error"] == "not_licensed"
    refused = await Trigger.objects.aget()  # logged for the administrator, as the user page does
    assert (refused.status, refused.key_name) == ("refused", "myApps user app")


async def test_a_preset_the_admin_does_not_show_cannot_be_pressed(sockets, pbx, alice, buttons):
    socket = await sockets()
    await sign_in(socket, pbx)
    await socket.receive_json_from()
    for preset in (buttons["hidden"].pk, "1", True, None):
        await socket.send_json_to({"mt": "Press", "preset": preset, "src": "p"})
        result = await socket.receive_json_from()
        assert result["mt"] == "PressResult" and result["error"] in ("unknown_preset", "bad_request")
    assert not await Trigger.objects.aexists()


async def test_the_app_says_so_when_the_admin_does_not_offer_the_buttons(sockets, pbx, alice, buttons):
    await sync_to_async(ServiceSettings.objects.update_or_create)(pk=1, defaults={"offer_user_page": False})
    socket = await sockets()
    await sign_in(socket, pbx)
    state = await socket.receive_json_from()
    assert state["refusal"]["code"] == "page_not_offered" and state["buttons"] == []


async def test_the_admin_socket_hands_out_a_ticket_after_its_own_login(sockets, pbx, alice):
    socket = await sockets("/myapps/admin")
    assert await sign_in(socket, pbx, app=ADMIN_APP) == {"mt": "AppLoginResult", "ok": True}
    ticket = await socket.receive_json_from()
    assert ticket["mt"] == "SignIn" and ticket["url"] == "/myapps/admin/signin" and len(ticket["ticket"]) > 30


async def test_the_admin_socket_refuses_a_user_app_login(sockets, pbx, alice):
    socket = await sockets("/myapps/admin")
    result = await sign_in(socket, pbx, app=USER_APP)
    assert result["ok"] is False and result["code"] == "wrong_app"


async def test_the_user_socket_refuses_an_admin_app_login(sockets, pbx, alice):
    socket = await sockets("/myapps/user")
    result = await sign_in(socket, pbx, app=ADMIN_APP)
    assert result["ok"] is False and result["code"] == "wrong_app"
