"""The simulator's App objects: the Login a user gets for an app, signed as the PBX signs it."""

from __future__ import annotations

from presence.pbx.digest import login_digest
from presence.pbx.simulator import PbxSimulator, SimApp, SimUser

ALICE = SimUser(guid="a" * 32, h323="alice", cn="Alice Smith", dn="Alice")
ERIN = SimUser(guid="e" * 32, h323="erin", cn="Erin Green", dn="Erin")


def simulator() -> PbxSimulator:
    apps = [
        SimApp("presence-heartbeat", "pw-user", "Presence", "https://svc/myapps/user", {"Alice"}),
        SimApp("presence-heartbeat-admin", "pw-admin", "Presence admin", "https://svc/myapps/admin", set()),
        SimApp("everybody", "pw-all", "For all", "https://svc/all"),
    ]
    return PbxSimulator(users=[ALICE, ERIN], apps=apps, domain="corp.example")


def test_the_login_is_signed_with_the_app_objects_password_over_the_challenge():
    login = simulator().app_login("presence-heartbeat", "alice", "0123456789012345")
    fields = {k: login[k] for k in ("app", "domain", "sip", "guid", "dn")}
    assert fields == {
        "app": "presence-heartbeat",
        "domain": "corp.example",
        "sip": "alice",
        "guid": "a" * 32,
        "dn": "Alice",
    }
    expected = login_digest(password="pw-user", challenge="0123456789012345", info=login["info"], **fields)
    assert login["digest"] == expected
    assert login["pbxObj"] == "presence-heartbeat" and "key" not in login


def test_info_names_the_app_object_and_lists_only_the_users_apps_in_order():
    info = simulator().app_login("presence-heartbeat", "alice", "1")["info"]
    assert list(info) == ["appobj", "appdn", "appurl", "cn", "apps", "pbx"]
    assert (info["appobj"], info["appdn"], info["appurl"], info["cn"]) == (
        "presence-heartbeat",
        "Presence",
        "https://svc/myapps/user",
        "Alice Smith",
    )
    assert info["apps"] == [{"name": "presence-heartbeat", "dn": "Presence"}, {"name": "everybody", "dn": "For all"}]


def test_a_user_without_the_app_gets_an_error_and_no_digest():
    login = simulator().app_login("presence-heartbeat", "erin", "1")
    assert login["error"] and "not assigned" in login["errorText"] and "digest" not in login
    assert simulator().apps_of("erin") == ["everybody"]


def test_unknown_apps_and_users_get_errors():
    assert "no App object" in simulator().app_login("nope", "alice", "1")["errorText"]
    assert "no user" in simulator().app_login("everybody", "nobody", "1")["errorText"]


def test_the_app_objects_password_is_not_in_its_repr():
    assert "pw-user" not in repr(simulator().apps["presence-heartbeat"])
