"""The preview host exists only in the embedded default with the built-in simulator; else it is 404.

"Built-in" is what `runheartbeat` does without PBX_URL: it attaches its simulator (`use_simulator`).
Here a simulator runs on its own thread and event loop, attached the same way.
"""

from __future__ import annotations

import pytest

from presence.myapps import preview, tokens
from presence.myapps.config import USER, app_object
from presence.myapps.signin import sign_in
from presence.pbx.simulator import SimApp, SimulatorThread, SimUser
from tests.presence.myapps.conftest import USER_APP, USER_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def builtin(alice, settings):
    """A running simulator with alice (who has the user app) and erin (who has not), attached like runheartbeat does."""
    settings.PBX_URL = ""
    users = [
        SimUser(guid=alice.guid, h323="alice", cn="Alice", dn="Alice Liddell"),
        SimUser(guid="f" * 32, h323="erin"),
    ]
    apps = [SimApp(USER_APP, USER_PASSWORD, "Presence", "http://localhost/myapps/user", {"alice"})]
    thread = SimulatorThread(users=users, apps=apps)
    simulator = thread.start()
    preview.use_simulator(simulator, thread._loop)
    yield simulator
    preview.forget_simulator()
    thread.stop()


def test_it_is_404_without_the_built_in_simulator(client, settings):
    settings.PBX_URL = ""
    preview.forget_simulator()
    assert client.get("/myapps/preview?user=alice").status_code == 404
    assert client.get("/myapps/preview/login?user=alice&app=x&challenge=1").status_code == 404


def test_it_is_404_with_a_real_pbx_even_if_a_simulator_runs(client, builtin, settings):
    settings.PBX_URL = "wss://pbx.example.com/PBX0/APPS/websocket"
    assert client.get("/myapps/preview?user=alice").status_code == 404
    assert client.get(f"/myapps/preview/login?user=alice&app={USER_APP}&challenge=1").status_code == 404


def test_it_frames_the_app_from_the_other_loopback_name(client, builtin):
    response = client.get("/myapps/preview?user=alice&scheme=dark&lang=de", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'src="http://localhost:8000/myapps/user.htm?name=presence-heartbeat&amp;lang=de&amp;scheme=dark' in body
    assert "Alice Liddell" in body and "erin" in body


def test_its_login_is_the_one_the_pbx_signs_and_the_app_accepts(client, builtin, alice):
    challenge = tokens.new_challenge()
    response = client.get(f"/myapps/preview/login?user=alice&app={USER_APP}&challenge={challenge}")
    login = response.json()
    assert (login["mt"], login["sip"], login["guid"], login["info"]["appobj"]) == (
        "Login",
        "alice",
        alice.guid,
        USER_APP,
    )
    assert sign_in(login, challenge, app_object(USER)) == alice


def test_a_user_without_the_app_gets_no_login(client, builtin):
    response = client.get(f"/myapps/preview/login?user=erin&app={USER_APP}&challenge=1234")
    assert response.json()["error"] and "not assigned" in response.json()["errorText"]
