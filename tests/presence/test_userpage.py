"""The user page: the page, the button endpoint, the press status, sign-in (also by SSO) and the socket.

What matters most here is whose presence can be seen or changed: every test that could leak or
touch another person's presence checks the other person (bob) afterwards, not only alice.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import AsyncClient, Client

from heartbeat_site.asgi import application
from licensing.models import Seat
from presence.link.pagefeed import outcome_message, presence_group, presence_message
from presence.models import AccountLink, PbxUser, Preset, ServiceSettings
from triggers.models import Trigger

PASSWORD = "correct horse battery staple"
ALICE_PRESENCE = [
    {"contact": "tel:", "status": "open", "activity": "away", "note": "At the dentist"},
    {"contact": "im:", "status": "open", "activity": "", "note": ""},
]
BOB_PRESENCE = [{"contact": "tel:", "status": "open", "activity": "busy", "note": "Bob's board meeting"}]
SSO_MIDDLEWARE = "presence.userpage.sso.ProxyHeaderSSOMiddleware"
SSO_BACKEND = "presence.userpage.sso.ProxyHeaderSSOBackend"


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def alice_pbx(alice) -> PbxUser:
    alice.dn = "Alice Liddell"
    alice.presence = ALICE_PRESENCE
    alice.save()
    return alice


@pytest.fixture
def bob_pbx(make_user) -> PbxUser:
    """The other person: nothing alice does may show or change anything of his."""
    return make_user("bob", dn="Bob Builder", emails=["bob@corp.example"], presence=BOB_PRESENCE)


@pytest.fixture
def presets(db) -> dict[str, Preset]:
    """Buttons of our own (the data migration's defaults are hidden), deliberately created out of order."""
    Preset.objects.update(show_on_user_page=False)

    def preset(name: str, **fields) -> Preset:
        fields.setdefault("note", "")
        fields.setdefault("color", "")
        return Preset.objects.update_or_create(name=name, defaults=fields)[0]

    return {
        "busy": preset("Busy", activity="busy", show_on_user_page=True, order=3),
        "away": preset("Away", activity="away", note="Back soon", show_on_user_page=True, order=2, color="#123456"),
        "available": preset("Available", activity="", show_on_user_page=True, order=1),
        "hidden": preset("Secret holiday", activity="away", note="Holiday", order=0),
    }


@pytest.fixture
def alice_login(db, alice_pbx):
    """The Django account alice signs in with; its username is her PBX login name."""
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def signed_in(client, alice_login) -> Client:
    client.force_login(alice_login)
    return client


def press_url(preset_id: int) -> str:
    return f"/api/ui/presets/{preset_id}/press"


def set_offered(offered: bool) -> None:
    options = ServiceSettings.current()
    options.offer_user_page = offered
    options.save()


# ---- the page --------------------------------------------------------------------------------------
def test_the_page_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_the_login_page_is_styled_like_the_page_and_signs_in(client, alice_login, presets):
    page = client.get("/accounts/login/?next=/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Sign in" in body and 'name="csrfmiddlewaretoken"' in body and "--accent" in body
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_the_login_page_says_when_the_password_is_wrong(client, alice_login):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_page_shows_own_name_presence_and_offered_buttons_in_order(signed_in, presets, bob_pbx):
    response = signed_in.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alice Liddell" in body
    assert 'id="presence-label">Away<' in body and "At the dentist" in body
    assert "--presence-color: #ffd063" in body  # myApps' colour for "away"
    assert body.index(">Available<") < body.index(">Away<span") < body.index(">Busy<")
    assert "--dot: #123456" in body  # a preset's own colour on its button
    assert "Secret holiday" not in body
    assert response["Cache-Control"].startswith("max-age=0")
    # Nothing of bob's: not his name, his login or his presence note.
    assert "Bob" not in body and "bob" not in body


def test_the_page_says_plainly_when_the_user_is_not_licensed(signed_in, alice_pbx, presets):
    Seat.objects.filter(user_guid=alice_pbx.guid).delete()
    body = signed_in.get("/").content.decode()
    assert 'id="licence-refusal"' in body and "not licensed" in body


def test_the_page_says_when_the_pbx_cannot_be_reached(signed_in, presets):
    body = signed_in.get("/").content.decode()
    assert 'id="link-down"' in body  # no link worker runs in this test


def test_a_user_without_a_pbx_match_gets_a_clear_page(client, db, alice_pbx):
    carol = get_user_model().objects.create_user("carol", password=PASSWORD)
    client.force_login(carol)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "No phone user found for you" in body and "carol" in body
    assert "Alice" not in body


def test_a_sign_in_name_matching_two_pbx_users_is_not_guessed(client, make_user):
    make_user("dave1", emails=["dave@corp.example"])
    make_user("dave2", emails=["dave@corp.example"])
    client.force_login(get_user_model().objects.create_user("dave@corp.example"))
    body = client.get("/").content.decode()
    assert "No phone user found for you" in body and "more than one PBX user" in body


def test_a_domain_sign_in_name_finds_the_pbx_user_like_triggers_do(client, alice_pbx, presets):
    client.force_login(get_user_model().objects.create_user("CORP\\alice"))
    body = client.get("/").content.decode()
    assert "Alice Liddell" in body and "At the dentist" in body


@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed-in"])
def test_the_page_says_it_is_not_offered_when_switched_off(client, alice_login, presets, signed):
    set_offered(False)
    if signed:
        client.force_login(alice_login)
    response = client.get("/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "This page is not offered" in body
    assert "At the dentist" not in body and "Busy" not in body


# ---- the button endpoint ---------------------------------------------------------------------------
def test_a_press_queues_a_button_trigger_and_wakes_the_link_after_commit(
    signed_in, alice_pbx, presets, django_capture_on_commit_callbacks, announced
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = signed_in.post(press_url(presets["busy"].pk), REMOTE_ADDR="10.1.2.3")
        assert announced == []  # nothing before the commit
    assert response.status_code == 202
    trigger = Trigger.objects.get()
    assert response.json() == {
        "id": trigger.pk,
        "status": "queued",
        "reason": "",
        "reason_text": "",
        "link_connected": False,
    }
    assert trigger.source == "button" and trigger.status == "queued" and trigger.http_status == 202
    assert trigger.pbx_user == alice_pbx and trigger.user_value == "alice"
    assert trigger.key_name == "user page" and trigger.event == "button"
    assert trigger.decision == {"requested_preset": presets["busy"].pk}
    assert trigger.source_ip == "10.1.2.3" and trigger.at == trigger.received_at
    for callback in callbacks:
        callback()
    assert announced == [trigger.pk]


def test_presses_are_limited_per_person_and_a_refused_press_writes_nothing(
    signed_in, alice_pbx, alice_login, presets, settings
):
    """60 presses in a second once reached the PBX 46 times (review finding 8)."""
    from heartbeat_site.helpers import metrics

    settings.USER_PAGE_PRESS_RATE = "3/hour"
    before = metrics.RATE_LIMITED.labels("button")._value.get()
    answers = [signed_in.post(press_url(presets["busy"].pk)) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert answers[-1].json()["error"] == "rate_limited" and 0 < int(answers[-1]["Retry-After"]) <= 3600
    assert Trigger.objects.count() == 3  # a refused press leaves no row...
    assert metrics.RATE_LIMITED.labels("button")._value.get() == before + 2  # ...it is counted instead
    # The limit is the person's (their PBX user), whichever account they signed in with.
    second = get_user_model().objects.create_user("CORP\\alice")
    other = Client()
    other.force_login(second)
    assert other.post(press_url(presets["busy"].pk)).status_code == 429


def test_a_crafted_press_naming_another_user_changes_only_the_signed_in_user(signed_in, alice_pbx, bob_pbx, presets):
    response = signed_in.post(
        f"{press_url(presets['away'].pk)}?user=bob&pbx_user={bob_pbx.pk}",
        {"user": "bob", "pbx_user": bob_pbx.pk, "guid": bob_pbx.guid},
    )
    assert response.status_code == 202
    assert list(Trigger.objects.values_list("pbx_user_id", "user_value")) == [(alice_pbx.pk, "alice")]
    assert not Trigger.objects.filter(pbx_user=bob_pbx).exists()
    bob_pbx.refresh_from_db()
    assert bob_pbx.presence == BOB_PRESENCE


def test_the_press_status_shows_own_presses_and_nothing_of_anyone_else(signed_in, alice_pbx, bob_pbx, presets):
    own = signed_in.post(press_url(presets["away"].pk)).json()
    bobs = Trigger.objects.create(
        source="button", pbx_user=bob_pbx, user_value="bob", event="button", at=Trigger().received_at
    )
    assert signed_in.get(f"/api/ui/presses/{own['id']}").json()["status"] == "queued"
    response = signed_in.get(f"/api/ui/presses/{bobs.pk}")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_trigger", "detail": "No such button press of yours."}


@pytest.mark.parametrize("which", ["hidden", "missing"])
def test_a_press_of_a_preset_not_offered_on_the_page_is_refused(signed_in, presets, which):
    preset_id = presets["hidden"].pk if which == "hidden" else 999_999
    response = signed_in.post(press_url(preset_id))
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_preset"
    assert not Trigger.objects.exists()


def test_a_press_for_an_unlicensed_user_is_refused_and_logged(signed_in, alice_pbx, presets):
    Seat.objects.filter(user_guid=alice_pbx.guid).delete()
    response = signed_in.post(press_url(presets["away"].pk))
    assert response.status_code == 403
    assert response.json()["error"] == "not_licensed"
    assert "not licensed" in response.json()["detail"]
    row = Trigger.objects.get()
    assert (row.status, row.http_status, row.source, row.pbx_user) == ("refused", 403, "button", alice_pbx)
    assert row.decision == {"requested_preset": presets["away"].pk, "error": "not_licensed"}


@pytest.mark.no_licence
def test_a_press_without_a_valid_licence_is_refused(signed_in, presets):
    response = signed_in.post(press_url(presets["away"].pk))
    assert response.status_code == 403
    assert response.json()["error"] == "licence_expired"
    assert not Trigger.objects.filter(status="queued").exists()


def test_a_press_while_the_page_is_not_offered_is_refused(signed_in, presets):
    set_offered(False)
    response = signed_in.post(press_url(presets["away"].pk))
    assert response.status_code == 403
    assert response.json()["error"] == "page_not_offered"
    assert signed_in.get("/api/ui/presses/1").status_code == 403
    assert not Trigger.objects.exists()


def test_a_press_needs_a_signed_in_user(client, presets):
    response = client.post(press_url(presets["away"].pk))
    assert response.status_code == 401
    assert response.json()["error"] == "not_signed_in"
    assert not Trigger.objects.exists()


def test_a_press_by_a_user_without_a_pbx_match_is_refused(client, presets, alice_pbx):
    client.force_login(get_user_model().objects.create_user("mallory"))
    response = client.post(press_url(presets["away"].pk))
    assert response.status_code == 403 and response.json()["error"] == "no_pbx_user"
    assert not Trigger.objects.exists()


def test_a_press_is_a_post(signed_in, presets):
    assert signed_in.get(press_url(presets["away"].pk)).status_code == 405
    assert not Trigger.objects.exists()


def test_a_press_without_the_csrf_token_is_refused(alice_login, presets):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice_login)
    assert client.post(press_url(presets["away"].pk)).status_code == 403
    assert not Trigger.objects.exists()
    client.get("/")  # the page hands out the token, as the browser gets it
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = client.post(press_url(presets["away"].pk), headers={"X-CSRFToken": token})
    assert response.status_code == 202
    assert Trigger.objects.filter(status="queued").count() == 1


# ---- single sign-on through a proxy header ----------------------------------------------------------
@pytest.fixture
def sso(settings):
    """The SSO middleware and backend installed the way settings do it when SSO_HEADER_ENABLED is on."""
    settings.SSO_HEADER_ENABLED = True
    settings.SSO_HEADER = "HTTP_X_REMOTE_USER"
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, SSO_MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    settings.AUTHENTICATION_BACKENDS = [SSO_BACKEND, *settings.AUTHENTICATION_BACKENDS]
    return settings


def test_the_proxy_header_is_ignored_while_sso_is_off(client, alice_pbx, presets):
    response = client.get("/", headers={"Remote-User": "alice", "X-Remote-User": "alice"})
    assert response.status_code == 302
    assert not get_user_model().objects.exists()


def test_sso_signs_the_proxys_user_in_and_creates_the_account(sso, client, alice_pbx, presets):
    response = client.get("/", headers={"X-Remote-User": "CORP\\alice"})
    assert response.status_code == 200
    assert "Alice Liddell" in response.content.decode()
    account = get_user_model().objects.get()
    assert account.username == "CORP\\alice" and not account.has_usable_password() and not account.is_staff
    # The session carries on without the header (the websocket has only the session).
    assert "Alice Liddell" in client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
async def test_sso_works_the_same_under_asgi(sso, alice_pbx, presets, worker_thread_db_closed):
    # Under ASGI Django 5.2's async RemoteUser path would read META["HTTP_HTTP_X_REMOTE_USER"].
    client = AsyncClient()
    response = await client.get("/", headers={"X-Remote-User": "alice"})
    assert response.status_code == 200
    assert "Alice Liddell" in response.content.decode()


def test_sso_switches_the_session_when_the_proxy_names_someone_else(sso, client, alice_pbx, bob_pbx, presets):
    assert "Alice Liddell" in client.get("/", headers={"X-Remote-User": "alice"}).content.decode()
    body = client.get("/", headers={"X-Remote-User": "bob"}).content.decode()
    assert "Bob Builder" in body and "Alice" not in body


def utf8_as_a_server_passes_it(name: str) -> str:
    """A header value as WSGI and ASGI servers hand it to Django: the UTF-8 bytes read as latin-1."""
    return name.encode("utf-8").decode("latin-1")


def signed_in_as(client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).get_username() if user_id else None


def test_sso_never_signs_the_proxys_name_into_an_existing_superuser(sso, client, presets):
    """`make run` creates the superuser "admin"; `Remote-User: admin` opened /admin/ as that superuser."""
    get_user_model().objects.create_superuser("admin", password=PASSWORD)
    response = client.get("/admin/", headers={"X-Remote-User": "admin"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert signed_in_as(client) is None


def test_sso_never_signs_into_an_account_made_by_hand(sso, client, alice_login, presets):
    response = client.get("/", headers={"X-Remote-User": "alice"})
    assert response.status_code == 302 and signed_in_as(client) is None
    assert not AccountLink.objects.exists()


def test_sso_signs_into_the_account_it_created_and_links_it_to_the_pbx_user(sso, client, alice_pbx, presets):
    assert client.get("/", headers={"X-Remote-User": "alice"}).status_code == 200
    link = AccountLink.objects.get()
    assert (link.user.username, link.origin, link.pbx_guid) == ("alice", "sso", alice_pbx.guid)
    again = Client()
    assert again.get("/", headers={"X-Remote-User": "alice"}).status_code == 200 and signed_in_as(again) == "alice"


def test_sso_signs_into_an_account_linked_to_the_pbx_user_the_name_means(sso, client, alice_login, presets):
    AccountLink.objects.create(user=alice_login, pbx_guid=PbxUser.objects.get(h323="alice").guid, origin="myapps-admin")
    assert client.get("/", headers={"X-Remote-User": "alice"}).status_code == 200
    assert signed_in_as(client) == "alice"


def test_sso_never_signs_into_an_account_linked_to_another_pbx_user(sso, client, alice_login, bob_pbx, presets):
    AccountLink.objects.create(user=alice_login, pbx_guid=bob_pbx.guid, origin="myapps-admin")
    assert client.get("/", headers={"X-Remote-User": "alice"}).status_code == 302
    assert signed_in_as(client) is None


def test_sso_refuses_staff_unless_the_setting_allows_it(sso, client, alice_pbx, presets):
    client.get("/", headers={"X-Remote-User": "alice"})  # created and linked by SSO
    get_user_model().objects.filter(username="alice").update(is_staff=True)  # later made staff
    later = Client()
    assert later.get("/admin/", headers={"X-Remote-User": "alice"}).status_code == 302
    assert signed_in_as(later) is None
    sso.SSO_ALLOW_STAFF = True
    assert later.get("/admin/", headers={"X-Remote-User": "alice"}).status_code == 200
    assert signed_in_as(later) == "alice"


def test_sso_finds_the_windows_login_not_a_pbx_user_whose_email_is_spelled_like_it(
    sso, client, alice_pbx, make_user, presets
):
    make_user("mallory", dn="Mallory", emails=["corp\\alice"])
    body = client.get("/", headers={"X-Remote-User": "CORP\\alice"}).content.decode()
    assert "Alice Liddell" in body and "Mallory" not in body


def test_sso_reads_the_proxys_name_as_utf_8(sso, client, make_user, presets):
    make_user("jürgen", dn="Jürgen Groß")
    response = client.get("/", headers={"X-Remote-User": utf8_as_a_server_passes_it("jürgen")})
    assert response.status_code == 200 and "Jürgen Groß" in response.content.decode()
    assert get_user_model().objects.get().username == "jürgen"
    # The session stays: the next request's header is read the same way.
    assert client.get("/", headers={"X-Remote-User": utf8_as_a_server_passes_it("jürgen")}).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("j\xfcrgen", id="not-utf-8"),
        pytest.param("a" * 300, id="longer-than-150"),
        pytest.param("al\x85ice", id="control"),
    ],
)
def test_sso_refuses_a_name_it_cannot_keep_and_creates_nothing(sso, client, alice_pbx, presets, name):
    response = client.get("/", headers={"X-Remote-User": name})
    assert response.status_code == 302 and signed_in_as(client) is None
    assert not get_user_model().objects.exists()


# ---- the websocket ---------------------------------------------------------------------------------
def session_cookie(client: Client, user) -> str:
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


@pytest.fixture
async def worker_thread_db_closed():
    """Closes the database connection that async code opened on asgiref's worker thread.

    Consumers and ASGI views query there, not on the test's thread: with persistent connections
    (PostgreSQL's CONN_MAX_AGE) that connection would outlive the test and keep the test database
    from being dropped at the end of the run.
    """
    yield
    await sync_to_async(connections.close_all)()


async def open_socket(
    session: str | None, origin: str = "http://localhost", host: str = "localhost"
) -> tuple[WebsocketCommunicator, bool, int]:
    headers = [(b"host", host.encode()), (b"origin", origin.encode())]
    if session:
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()))
    socket = WebsocketCommunicator(application, "/ws/presence/", headers=headers)
    connected, code = await socket.connect(timeout=30)
    return socket, connected, code


@pytest.fixture
def sockets(worker_thread_db_closed):
    """`open_socket`, with the database clean-up that socket tests need."""
    return open_socket


@pytest.fixture
def alice_session(transactional_db, alice_login, presets) -> str:
    return session_cookie(Client(), alice_login)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_sends_the_own_current_presence_at_connect(sockets, alice_session, bob_pbx):
    socket, connected, _ = await sockets(alice_session)
    assert connected
    message = await socket.receive_json_from(timeout=30)
    assert message == {
        "type": "presence",
        "activity": "away",
        "label": "Away",
        "note": "At the dentist",
        "color": "#ffd063",
        "known": True,
    }
    await socket.disconnect(timeout=30)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_relays_the_own_presence_changes_and_press_outcomes(sockets, alice_session, alice_pbx):
    socket, connected, _ = await sockets(alice_session)
    assert connected
    await socket.receive_json_from(timeout=30)
    layer = get_channel_layer()
    phone = [{"contact": "tel:", "status": "open", "activity": "dnd", "note": "In a call"}]
    await layer.group_send(presence_group(alice_pbx.pk), presence_message(phone, "tel:"))
    assert await socket.receive_json_from(timeout=30) == {
        "type": "presence",
        "activity": "dnd",
        "label": "Do not disturb",
        "note": "In a call",
        "color": "#cb8cdb",
    }
    await layer.group_send(presence_group(alice_pbx.pk), outcome_message(41, "failed", "PBX error 7: no rights"))
    assert await socket.receive_json_from(timeout=30) == {
        "type": "outcome",
        "id": 41,
        "status": "failed",
        "reason": "PBX error 7: no rights",
        "reason_text": "PBX error 7: no rights",
    }
    await socket.disconnect(timeout=30)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_never_carries_another_users_presence(sockets, alice_session, alice_pbx, bob_pbx):
    socket, connected, _ = await sockets(alice_session)
    assert connected
    first = await socket.receive_json_from(timeout=30)
    assert "Bob" not in str(first)
    layer = get_channel_layer()
    await layer.group_send(presence_group(bob_pbx.pk), presence_message(BOB_PRESENCE, "tel:"))
    await layer.group_send(presence_group(bob_pbx.pk), outcome_message(7, "applied", ""))
    # Then one for alice, sent after bob's: it must be the next thing her socket says.
    await layer.group_send(presence_group(alice_pbx.pk), outcome_message(8, "applied", "marker"))
    assert await socket.receive_json_from(timeout=30) == {
        "type": "outcome",
        "id": 8,
        "status": "applied",
        "reason": "marker",
        "reason_text": "marker",
    }
    await socket.disconnect(timeout=30)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_accepts_no_commands_so_it_cannot_change_anyone(sockets, alice_session, bob_pbx, presets):
    socket, connected, _ = await sockets(alice_session)
    assert connected
    await socket.receive_json_from(timeout=30)
    await socket.send_json_to({"type": "press", "user": "bob", "pbx_user": bob_pbx.pk, "preset": presets["busy"].pk})
    await socket.send_to(text_data="not even json")
    for _ in range(2):
        reply = await socket.receive_json_from(timeout=30)
        assert reply["type"] == "error" and "accepts no commands" in reply["detail"]
    await socket.disconnect(timeout=30)
    assert not await Trigger.objects.aexists()
    bob = await PbxUser.objects.aget(pk=bob_pbx.pk)
    assert bob.presence == BOB_PRESENCE


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_anonymous_visitors(sockets, transactional_db):
    _, connected, code = await sockets(None)
    assert not connected and code == 4401


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_a_foreign_origin(sockets, alice_session):
    _, connected, _ = await sockets(alice_session, origin="https://evil.example")
    assert not connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:9999", "https://127.0.0.1", "http://127.0.0.1", "ws://127.0.0.1:8000", "null"],
    ids=["other-port", "other-scheme-and-port", "default-port", "not-a-web-origin", "opaque"],
)
async def test_the_socket_refuses_an_origin_that_differs_in_scheme_or_port(sockets, alice_session, settings, origin):
    """The same host is not the same origin: another port or scheme is another site (review finding 13)."""
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    _, connected, _ = await sockets(alice_session, origin=origin, host="127.0.0.1:8000")
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_the_socket_accepts_its_own_origin_and_the_public_url(sockets, alice_session, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    socket, connected, _ = await sockets(alice_session, origin="http://127.0.0.1:8000", host="127.0.0.1:8000")
    assert connected
    await socket.disconnect()
    # Behind a proxy that ends TLS the socket itself is plain ws://: the public URL's origin is what the browser sends.
    settings.PUBLIC_URL = "https://localhost"
    socket, connected, _ = await sockets(alice_session, origin="https://localhost", host="localhost")
    assert connected
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_its_own_origin_on_a_host_that_is_not_allowed(sockets, alice_session):
    _, connected, _ = await sockets(alice_session, origin="http://evil.example", host="evil.example")
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_signing_out_closes_the_sockets_of_that_session_and_no_other(
    sockets, alice_session, alice_login, alice_pbx
):
    """The socket kept streaming the presence after sign-out until it reconnected (review finding 10)."""
    other_session = await sync_to_async(session_cookie)(Client(), alice_login)  # alice on her phone too
    socket, connected, _ = await sockets(alice_session)
    other, other_connected, _ = await sockets(other_session)
    assert connected and other_connected
    await socket.receive_json_from()
    await other.receive_json_from()

    client = AsyncClient()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = alice_session
    response = await client.post("/accounts/logout/")
    assert response.status_code == 302

    closed = await socket.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4401}
    # The other session is still signed in: its socket still gets alice's presence.
    phone = [{"contact": "tel:", "status": "open", "activity": "dnd", "note": "In a call"}]
    await get_channel_layer().group_send(presence_group(alice_pbx.pk), presence_message(phone, "tel:"))
    assert (await other.receive_json_from())["note"] == "In a call"
    await other.disconnect()


@pytest.fixture
def switched_off(transactional_db) -> None:
    set_offered(False)


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_when_the_page_is_not_offered(sockets, alice_session, switched_off):
    _, connected, code = await sockets(alice_session)
    assert not connected and code == 4403


@pytest.fixture
def unmatched_session(transactional_db, alice_pbx) -> str:
    return session_cookie(Client(), get_user_model().objects.create_user("mallory"))


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_a_user_without_a_pbx_match(sockets, unmatched_session):
    _, connected, code = await sockets(unmatched_session)
    assert not connected and code == 4403
