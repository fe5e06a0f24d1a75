"""Only /myapps/ pages may be framed, and only by the configured origins; everything else is DENY."""

from __future__ import annotations

import pytest
from django.http import HttpResponse

from presence.myapps.config import frame_ancestors
from presence.myapps.middleware import MyAppsFrameMiddleware

pytestmark = pytest.mark.django_db


def ancestors(response) -> str:
    return response.get("Content-Security-Policy", "")


@pytest.mark.parametrize("path", ["/myapps/user.htm", "/myapps/admin.htm", "/myapps/user.png", "/myapps/admin/login/"])
def test_myapps_pages_may_be_framed_by_the_configured_origins_only(client, settings, path):
    settings.MYAPPS_FRAME_ANCESTORS = ["https://pbx.example.com", "https://apps.example.com:8443"]
    response = client.get(path)
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert ancestors(response) == "frame-ancestors https://pbx.example.com https://apps.example.com:8443"


@pytest.mark.parametrize("path", ["/admin/login/", "/accounts/login/", "/healthz", "/api/schema/", "/myappsx"])
def test_every_other_page_keeps_x_frame_options_deny(client, settings, path):
    settings.MYAPPS_FRAME_ANCESTORS = ["https://pbx.example.com"]
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors" not in ancestors(response)


def test_by_default_the_pbx_origin_from_pbx_url_may_frame(settings):
    settings.MYAPPS_FRAME_ANCESTORS = None
    settings.PBX_URL = "wss://pbx.example.com:444/PBX0/APPS/websocket"
    assert frame_ancestors() == ["https://pbx.example.com:444"]
    settings.PBX_URL = "ws://10.0.0.5/PBX0/APPS/websocket"
    assert frame_ancestors() == ["http://10.0.0.5"]


def test_in_the_embedded_default_the_preview_host_may_frame(settings):
    settings.MYAPPS_FRAME_ANCESTORS = None
    settings.PBX_URL = ""
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    # The preview host is this service under either loopback name (it frames the app from the other).
    assert frame_ancestors() == ["http://127.0.0.1:8000", "http://localhost:8000"]


def test_a_framed_page_keeps_the_other_directives_of_its_content_security_policy(rf, settings):
    settings.MYAPPS_FRAME_ANCESTORS = ["https://pbx.example.com"]

    def page_with_policy(request):
        response = HttpResponse("app")
        response["Content-Security-Policy"] = "default-src 'self'"
        return response

    response = MyAppsFrameMiddleware(page_with_policy)(rf.get("/myapps/user.htm"))
    assert ancestors(response) == "default-src 'self'; frame-ancestors https://pbx.example.com"
