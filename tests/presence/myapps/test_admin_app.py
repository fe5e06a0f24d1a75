"""The admin app's way into the Django admin: which account, which rights, which cookie, which links.

The ticket is what the admin app's websocket hands out after a good AppLogin (test_sockets.py);
here it is made directly, and each test checks the account, the session and the pages after.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from licensing.models import Seat
from presence.models import AccountLink, PbxUser
from presence.myapps import accounts, tokens
from presence.myapps.middleware import CSRF_COOKIE, SESSION_COOKIE

pytestmark = pytest.mark.django_db

FRAMED = {"HTTP_HOST": "localhost"}


def ticket_for(user: PbxUser, lang: str = "en") -> str:
    return tokens.new_ticket({"guid": user.guid, "lang": lang})


def sign_in(client: Client, user: PbxUser, **post) -> object:
    return client.post("/myapps/admin/signin", {"ticket": ticket_for(user), **post}, **FRAMED)


def framed_session(client: Client) -> dict:
    """The session behind the framed cookie (Django's test client only reads its own cookie name)."""
    morsel = client.cookies.get(SESSION_COOKIE)
    return dict(SessionStore(session_key=morsel.value).load()) if morsel and morsel.value else {}


def signed_in_account(client: Client):
    return get_user_model().objects.get(pk=framed_session(client)["_auth_user_id"])


@pytest.fixture
def admin_pbx(make_user) -> PbxUser:
    """The PBX user "admin" (Administrator), like the demo PBX's."""
    return make_user("admin", dn="Administrator", emails=["admin@example.com"], licensed=False)


def test_the_group_from_the_migration_has_exactly_the_listed_permissions():
    group = Group.objects.get(name="Presence administrators")
    have = {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}
    assert have == set(accounts.GROUP_PERMISSIONS)
    assert ("presence", "change_servicesettings") not in have and ("triggers", "change_trigger") not in have


def test_the_first_visit_creates_a_linked_staff_account_with_the_groups_rights_only(client, admin_pbx):
    response = sign_in(client, admin_pbx)
    assert response.status_code == 302 and response["Location"] == "/myapps/admin/"
    account = signed_in_account(client)
    assert account.username == "myapps.admin"
    assert account.is_staff and not account.is_superuser and not account.has_usable_password()
    assert not account.user_permissions.exists()
    assert list(account.groups.values_list("name", flat=True)) == ["Presence administrators"]
    assert {p.split(".", 1)[0] for p in account.get_all_permissions()} == {"presence", "triggers", "licensing"}
    assert account.get_all_permissions() == {f"{app}.{code}" for app, code in accounts.GROUP_PERMISSIONS}
    link = AccountLink.objects.get(user=account)
    assert (link.origin, link.pbx_guid) == ("myapps-admin", admin_pbx.guid)


def test_it_never_signs_into_the_superuser_of_the_same_name(client, admin_pbx, django_user_model):
    superuser = django_user_model.objects.create_superuser("admin", "", "a long admin password")
    sign_in(client, admin_pbx)
    account = signed_in_account(client)
    assert account.pk != superuser.pk and not account.is_superuser
    superuser.refresh_from_db()
    assert superuser.groups.count() == 0 and not AccountLink.objects.filter(user=superuser).exists()


def test_it_never_signs_into_an_unlinked_account_with_the_name_it_would_choose(client, admin_pbx, django_user_model):
    squatter = django_user_model.objects.create_user("myapps.admin", password="whatever it is")
    sign_in(client, admin_pbx)
    account = signed_in_account(client)
    assert account.pk != squatter.pk and account.username == "myapps.admin.2"


def test_the_next_visit_signs_into_the_same_linked_account(admin_pbx):
    first, second = Client(), Client()
    sign_in(first, admin_pbx)
    sign_in(second, admin_pbx)
    assert signed_in_account(first) == signed_in_account(second)
    assert AccountLink.objects.filter(pbx_guid=admin_pbx.guid).count() == 1


def test_it_refuses_a_linked_account_that_someone_made_superuser(client, admin_pbx):
    sign_in(Client(), admin_pbx)
    get_user_model().objects.filter(username="myapps.admin").update(is_superuser=True)
    response = sign_in(client, admin_pbx)
    assert response.status_code == 403 and b"superuser" in response.content
    assert "_auth_user_id" not in framed_session(client)


def test_it_refuses_a_linked_account_that_was_switched_off(client, admin_pbx):
    sign_in(Client(), admin_pbx)
    get_user_model().objects.filter(username="myapps.admin").update(is_active=False)
    assert sign_in(client, admin_pbx).status_code == 403


def test_a_ticket_signs_in_once(client, admin_pbx):
    ticket = ticket_for(admin_pbx)
    assert client.post("/myapps/admin/signin", {"ticket": ticket}, **FRAMED).status_code == 302
    again = Client().post("/myapps/admin/signin", {"ticket": ticket}, **FRAMED)
    assert again.status_code == 403 and b"expired or was already used" in again.content


@pytest.mark.parametrize("ticket", ["", "made-up", "x" * 500])
def test_an_unknown_ticket_signs_in_nobody(client, ticket):
    response = client.post("/myapps/admin/signin", {"ticket": ticket}, **FRAMED)
    assert response.status_code == 403 and "_auth_user_id" not in framed_session(client)


def test_the_sign_in_is_a_post(client, admin_pbx):
    assert client.get(f"/myapps/admin/signin?ticket={ticket_for(admin_pbx)}", **FRAMED).status_code == 405


def test_a_user_no_longer_allowed_is_refused_at_the_ticket(client, admin_pbx, settings):
    ticket = ticket_for(admin_pbx)
    settings.MYAPPS_ADMIN_USERS = ["carol"]
    assert client.post("/myapps/admin/signin", {"ticket": ticket}, **FRAMED).status_code == 403


def test_the_framed_session_cookie_is_its_own_and_fit_for_a_cross_site_frame(client, admin_pbx):
    response = sign_in(client, admin_pbx)
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    header = response.cookies[SESSION_COOKIE].output()
    assert "Path=/myapps/" in header and "Secure" in header and "HttpOnly" in header
    assert "SameSite=None; Partitioned" in header


def test_the_framed_admin_links_stay_inside_the_frame(client, admin_pbx, alice):
    sign_in(client, admin_pbx)
    home = client.get("/myapps/admin/", **FRAMED)
    assert home.status_code == 200
    body = home.content.decode()
    assert 'id="overview-users"' in body and 'href="/myapps/admin/presence/pbxuser/"' in body
    assert 'href="/myapps/admin/integration/"' in body and 'href="/admin/' not in body
    users = client.get("/myapps/admin/presence/pbxuser/", **FRAMED).content.decode()
    assert f'data-url="/myapps/admin/presence/pbxuser/{alice.pk}/licence-switch/"' in users
    assert "View site" not in users  # pages outside /myapps/ may not be framed


def test_the_licence_switch_works_inside_the_frame(client, admin_pbx, alice):
    Seat.objects.all().delete()
    sign_in(client, admin_pbx)
    users = client.get("/myapps/admin/presence/pbxuser/", **FRAMED)
    csrf = users.cookies[CSRF_COOKIE].value  # the framed CSRF cookie, scoped like the session's
    response = client.post(
        f"/myapps/admin/presence/pbxuser/{alice.pk}/licence-switch/",
        '{"on": true}',
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
        **FRAMED,
    )
    assert response.status_code == 200 and response.json()["on"] is True
    assert Seat.objects.filter(user_guid=alice.guid).exists()


def test_the_group_may_not_change_the_services_settings(client, admin_pbx):
    sign_in(client, admin_pbx)
    assert client.get("/myapps/admin/presence/servicesettings/1/change/", **FRAMED).status_code == 403


def test_the_ordinary_admin_session_does_not_open_the_framed_admin(django_user_model):
    superuser = django_user_model.objects.create_superuser("boss", "", "a long admin password")
    top = Client()
    top.force_login(superuser)
    assert top.get("/admin/", **FRAMED).status_code == 200
    # The top-level cookie is not what /myapps/ pages read: the framed admin asks to open it from myApps.
    assert top.get("/myapps/admin/", **FRAMED)["Location"].startswith("/myapps/admin/login/")


def test_a_framed_session_not_opened_by_the_admin_app_is_ended(client, django_user_model):
    staff = django_user_model.objects.create_user("staffer", password="a long staff password", is_staff=True)
    client.force_login(staff)
    client.cookies[SESSION_COOKIE] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    response = client.get("/myapps/admin/", **FRAMED)
    assert response.status_code == 302 and response["Location"].startswith("/myapps/admin/login/")


def test_without_a_session_the_framed_admin_says_to_open_it_from_myapps(client):
    response = client.get("/myapps/admin/login/?next=/myapps/admin/", **FRAMED)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="open-from-myapps"' in body and "<input" not in body  # no password form
    assert "/myapps/admin.htm?name=presence-heartbeat-admin" in body


def test_the_framed_admin_follows_myapps_scheme_and_language(client, admin_pbx):
    sign_in(client, admin_pbx, scheme="dark")
    assert 'dataset.theme = "dark"' in client.get("/myapps/admin/", **FRAMED).content.decode()
    csrf = client.cookies[CSRF_COOKIE].value
    preferences = {"lang": "de", "scheme": "light"}
    response = client.post("/myapps/admin/preferences", preferences, HTTP_X_CSRFTOKEN=csrf, **FRAMED)
    assert response.status_code == 204
    home = client.get("/myapps/admin/", **FRAMED).content.decode()
    assert 'dataset.theme = "light"' in home and "Website-Verwaltung" in home  # Django's own German
