"""The websocket Origin check (heartbeat_site/helpers/origins.py) as a table: scheme, host and port all count."""

from __future__ import annotations

import pytest

from heartbeat_site.helpers.origins import origin_allowed, origin_of


def scope(origin: str | list[str] | None, host: str = "presence.corp.example", scheme: str = "ws") -> dict:
    origins = [] if origin is None else [origin] if isinstance(origin, str) else origin
    headers = [(b"host", host.encode()), *((b"origin", o.encode()) for o in origins)]
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.fixture(autouse=True)
def _site(settings):
    settings.ALLOWED_HOSTS = ["presence.corp.example", ".apps.corp.example"]
    settings.PUBLIC_URL = "https://presence.corp.example"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.apps.corp.example", "https://pbx.corp.example:8443"]


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("https://presence.corp.example", "presence.corp.example", "ws", True),
        ("https://presence.corp.example:443", "presence.corp.example", "ws", True),
        ("http://presence.corp.example", "presence.corp.example", "ws", True),  # its own origin, plain
        ("http://presence.corp.example", "presence.corp.example", "wss", False),  # not its own: that is https
        ("https://presence.corp.example:8443", "presence.corp.example", "ws", False),
        ("http://presence.corp.example:9999", "presence.corp.example", "ws", False),
        ("https://myapps.apps.corp.example", "presence.corp.example", "ws", True),  # CSRF wildcard
        ("http://myapps.apps.corp.example", "presence.corp.example", "ws", False),  # wildcard keeps the scheme
        ("https://pbx.corp.example:8443", "presence.corp.example", "ws", True),
        ("https://pbx.corp.example", "presence.corp.example", "ws", False),  # another port
        ("https://evil.example", "presence.corp.example", "ws", False),
        ("https://presence.corp.example.evil.example", "presence.corp.example", "ws", False),
        ("http://evil.example", "evil.example", "ws", False),  # "its own" on a host it does not serve
        ("null", "presence.corp.example", "ws", False),
        (None, "presence.corp.example", "ws", False),
        (["https://presence.corp.example", "https://evil.example"], "presence.corp.example", "ws", False),
    ],
)
def test_an_origin_is_allowed_only_with_its_scheme_host_and_port(origin, host, scheme, allowed):
    assert origin_allowed(scope(origin, host, scheme)) is allowed


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Presence.Corp.Example", ("https", "presence.corp.example", 443)),
        ("http://127.0.0.1:8000/", ("http", "127.0.0.1", 8000)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
        ("ftp://presence.corp.example", None),
        ("https://user:pw@presence.corp.example", None),
        ("https://presence.corp.example:99999", None),
    ],
)
def test_origin_of(url, expected):
    assert origin_of(url) == expected
