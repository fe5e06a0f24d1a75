"""The one place daphne is patched (heartbeat_site/helpers/daphne_body_limit.py): these break on an upgrade
that moves what the patch relies on; tests/e2e/test_body_limits.py checks the behaviour itself."""

from __future__ import annotations

from daphne.http_protocol import HTTPFactory
from twisted.web import http

import heartbeat_site.asgi  # noqa: F401  (installs the patch, as daphne's and runheartbeat's import does)
from heartbeat_site.helpers.daphne_body_limit import BodyLimitedRequest, _path_of


def test_daphne_builds_its_requests_from_our_class():
    assert HTTPFactory(None).buildProtocol(None).requestFactory is BodyLimitedRequest


def test_the_twisted_hooks_the_limit_uses_are_there():
    assert {"gotLength", "handleContentChunk"} <= set(vars(http.Request))
    from twisted.internet.testing import StringTransport

    channel = http.HTTPChannel()
    channel.makeConnection(StringTransport())
    channel.dataReceived(b"POST /api/v1/triggers?x=1 HTTP/1.1\r\n")  # the request line, before any header
    assert _path_of(channel._path) == "/api/v1/triggers"


def test_the_path_is_read_from_any_request_target():
    assert _path_of(b"http://presence.example/api/v1/%74riggers") == "/api/v1/triggers"
    assert _path_of(b"/accounts/login/") == "/accounts/login/"
    assert _path_of(b"\xff") == ""
