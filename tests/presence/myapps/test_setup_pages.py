"""The admin tells what to create on the PBX (integration page) and which app is off (admin index)."""

from __future__ import annotations

import pytest

from tests.presence.myapps.conftest import ADMIN_PASSWORD, USER_PASSWORD

pytestmark = pytest.mark.django_db


def test_the_integration_page_lists_the_app_objects_to_create_without_their_passwords(admin_client, settings):
    settings.PUBLIC_URL = "https://presence.example.com"
    settings.MYAPPS_FRAME_ANCESTORS = ["https://pbx.example.com"]
    body = admin_client.get("/admin/integration/").content.decode()
    section = body[body.index('id="myapps"') :]
    for text in (
        "presence-heartbeat",
        "presence-heartbeat-admin",
        "https://presence.example.com/myapps/user",
        "https://presence.example.com/myapps/admin",
        "MYAPPS_USER_PASSWORD",
        "MYAPPS_ADMIN_PASSWORD",
        "Website",
        "config template",
        "https://pbx.example.com",
    ):
        assert text in section, text
    assert USER_PASSWORD not in body and ADMIN_PASSWORD not in body


def test_the_integration_page_says_which_app_is_off(admin_client, settings):
    settings.MYAPPS_ADMIN_PASSWORD = ""
    body = admin_client.get("/admin/integration/").content.decode()
    admin_row = body[body.index('data-app="admin"') :]
    assert "MYAPPS_ADMIN_PASSWORD is not set" in admin_row[: admin_row.index("</tr>")]


def test_the_admin_index_says_when_an_app_is_off_and_nothing_when_both_are_on(admin_client, settings):
    assert 'id="myapps-status"' not in admin_client.get("/admin/").content.decode()
    settings.MYAPPS_USER_PASSWORD = ""
    body = admin_client.get("/admin/").content.decode()
    assert 'data-app="user"' in body and "user app is off: set MYAPPS_USER_PASSWORD" in body
    assert 'data-app="admin"' not in body
