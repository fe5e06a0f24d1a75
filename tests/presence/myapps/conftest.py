"""Fixtures for the myApps apps: the App objects' passwords, and a simulated PBX that signs logins."""

from __future__ import annotations

import pytest

from presence.pbx.simulator import PbxSimulator, SimApp, SimUser

USER_APP, USER_PASSWORD = "presence-heartbeat", "user app password"
ADMIN_APP, ADMIN_PASSWORD = "presence-heartbeat-admin", "admin app password"


@pytest.fixture(autouse=True)
def app_objects(settings):
    """Both apps on, with the passwords the simulated PBX's App objects have."""
    settings.MYAPPS_USER_APP, settings.MYAPPS_USER_PASSWORD = USER_APP, USER_PASSWORD
    settings.MYAPPS_ADMIN_APP, settings.MYAPPS_ADMIN_PASSWORD = ADMIN_APP, ADMIN_PASSWORD
    settings.MYAPPS_ADMIN_USERS = []


@pytest.fixture
def pbx(alice, make_user) -> PbxSimulator:
    """The PBX as myApps asks it for logins (`app_login` needs no socket): alice and bob have the user
    app, only alice the admin app; mallory exists on the PBX but not in our directory."""
    bob = make_user("bob", dn="Bob Builder")
    users = [
        SimUser(guid=alice.guid, h323="alice", cn="Alice", dn="Alice Liddell"),
        SimUser(guid=bob.guid, h323="bob", cn="Bob", dn="Bob Builder"),
        SimUser(guid="e" * 32, h323="mallory", cn="Mallory", dn="Mallory"),
    ]
    apps = [
        SimApp(USER_APP, USER_PASSWORD, "Presence", "http://testserver/myapps/user", {"alice", "bob", "mallory"}),
        SimApp(ADMIN_APP, ADMIN_PASSWORD, "Presence admin", "http://testserver/myapps/admin", {"alice"}),
    ]
    return PbxSimulator(users=users, apps=apps)
