"""`manage.py check` refuses a myApps configuration that cannot work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from presence.myapps.checks import check_myapps_settings
from tests.test_settings import ROOT, run_check


def ids(settings) -> list[str]:
    return [problem.id for problem in check_myapps_settings(None)]


def test_the_admin_app_on_plain_http_is_refused(settings):
    settings.MYAPPS_ADMIN_PASSWORD = "set"
    settings.PBX_URL = "wss://pbx.example.com/PBX0/APPS/websocket"
    settings.PUBLIC_URL = "http://presence.example.com"
    assert ids(settings) == ["presence.E010"]
    settings.PUBLIC_URL = "https://presence.example.com"
    assert ids(settings) == []


def test_the_admin_app_on_http_is_fine_for_the_embedded_default_on_loopback(settings):
    settings.MYAPPS_ADMIN_PASSWORD = "set"
    settings.PBX_URL = ""
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    assert ids(settings) == []
    settings.PUBLIC_URL = "http://192.168.1.10:8000"  # the demo served to a network: not the exception
    assert ids(settings) == ["presence.E010"]


def test_an_admin_app_that_is_off_may_be_on_http(settings):
    settings.MYAPPS_ADMIN_PASSWORD = ""
    settings.PUBLIC_URL = "http://presence.example.com"
    settings.PBX_URL = "wss://pbx.example.com/PBX0/APPS/websocket"
    assert ids(settings) == []


def test_the_two_apps_need_two_names(settings):
    settings.MYAPPS_ADMIN_APP = settings.MYAPPS_USER_APP = "presence"
    assert ids(settings) == ["presence.E012"]
    settings.MYAPPS_ADMIN_APP = ""
    assert ids(settings) == ["presence.E011"]


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://pbx.example.com", True),
        ("https://pbx.example.com:8443", True),
        ("https://*.example.com", True),
        ("'self'", True),
        ("https://pbx.example.com/", False),
        ("https://pbx.example.com/PBX0/APPCLIENT", False),
        ("pbx.example.com", False),
        ("https://pbx.example.com; script-src *", False),
    ],
)
def test_frame_ancestors_must_be_origins(settings, origin, ok):
    settings.MYAPPS_FRAME_ANCESTORS = [origin]
    assert ids(settings) == ([] if ok else ["presence.E013"])


def test_manage_py_check_stops_on_the_admin_app_over_http():
    result = run_check(
        {
            "SECRET_KEY": "k" * 50,
            "API_KEY_PEPPER": "p" * 32,
            "PBX_URL": "wss://pbx.example.com/PBX0/APPS/websocket",
            "PBX_PASSWORD": "x",
            "PUBLIC_URL": "http://presence.example.com",
            "MYAPPS_ADMIN_PASSWORD": "an admin app password",
        }
    )
    assert result.returncode != 0 and "presence.E010" in result.stderr and "https" in result.stderr
    assert "an admin app password" not in result.stderr + result.stdout


def test_the_app_passwords_may_come_from_files(tmp_path):
    (tmp_path / "user").write_text("from a file\n")
    (tmp_path / "admin").write_text("admin from a file\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MYAPPS_")},
        "DJANGO_SETTINGS_MODULE": "heartbeat_site.settings_test",
        "MYAPPS_USER_PASSWORD_FILE": str(tmp_path / "user"),
        "MYAPPS_ADMIN_PASSWORD_FILE": str(tmp_path / "admin"),
        "MYAPPS_ADMIN_USERS": " alice, bob ,",
        "MYAPPS_FRAME_ANCESTORS": "https://pbx.example.com, https://pbx2.example.com",
    }
    code = (
        "from django.conf import settings as s; "
        "print(s.MYAPPS_USER_PASSWORD, s.MYAPPS_ADMIN_PASSWORD, s.MYAPPS_ADMIN_USERS, "
        "s.MYAPPS_FRAME_ANCESTORS, sep='|')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == (
        "from a file|admin from a file|['alice', 'bob']|['https://pbx.example.com', 'https://pbx2.example.com']"
    )
