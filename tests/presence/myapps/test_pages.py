"""The apps' pages and icons as myApps loads them, in myApps' language and scheme."""

from __future__ import annotations

import json
import re
import struct

import pytest
from django.utils import translation

from presence.myapps import signin, userapp, views
from presence.userpage import services

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    match = re.search(
        r'<script id="page-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    return json.loads(match.group(1))


def test_the_user_app_page_takes_myapps_name_language_and_scheme(client):
    response = client.get("/myapps/user.htm?name=presence-heartbeat&lang=de&scheme=dark&title=Presence")
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    body = response.content.decode()
    assert '<html lang="de" data-scheme="dark">' in body and "Meine Präsenz setzen" in body
    config = page_config(response)
    assert config["app"] == "presence-heartbeat" and config["socketPath"] == "/myapps/user?lang=de"
    assert config["strings"]["done"] == "Erledigt: „{name}“ ist gesetzt."


def test_without_myapps_parameters_the_page_follows_the_device(client):
    body = client.get("/myapps/user.htm").content.decode()
    assert '<html lang="en" data-scheme="">' in body and "prefers-color-scheme: dark" in body


def test_a_page_says_the_app_is_off_when_its_password_is_missing(client, settings):
    settings.MYAPPS_USER_PASSWORD = ""
    body = client.get("/myapps/user.htm?lang=en").content.decode()
    assert "This app is switched off" in body and "presence-heartbeat" in body
    assert "myapps.signIn(onMessage)" not in body  # nothing to sign in to


def test_the_admin_app_page_posts_its_ticket_with_the_scheme(client):
    body = client.get("/myapps/admin.htm?name=presence-heartbeat-admin&scheme=dark").content.decode()
    assert 'name="scheme" value="dark"' in body and 'name="ticket"' in body


@pytest.mark.parametrize("role", ["user", "admin"])
def test_the_icons_are_50_pixel_pngs(client, role):
    response = client.get(f"/myapps/{role}.png")
    data = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (50, 50)


def everything_the_apps_say() -> list[str]:
    return [
        *map(str, views.STRINGS.values()),
        *map(str, signin.MESSAGES.values()),
        *map(str, userapp.REFUSALS.values()),
        *map(str, services.ACTIVITY_LABELS.values()),
    ]


def test_everything_the_apps_say_has_a_german_translation():
    english = everything_the_apps_say()
    with translation.override("de"):
        german = everything_the_apps_say()
    untranslated = [text for text, de in zip(english, german, strict=True) if text == de and text != "Live"]
    assert untranslated == []
