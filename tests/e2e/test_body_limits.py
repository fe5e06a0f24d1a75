"""A running server stops reading a body once it is over the limit (security review finding 1).

A 300 MB POST without a key got 401, but only after the whole body had been buffered: the server
process grew by 300 MB. Here a client declares (or streams) a body far over the limit, sends only a
little of it and waits: the 413 must come while the rest is still unsent — proof that the server
never waited for, let alone buffered, more than it had been sent. Against daphne alone (the scaled
web tier) and `runheartbeat` (the embedded default).
"""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from tests.e2e.stack import Server, Web

pytestmark = pytest.mark.django_db(transaction=True)
JSON = "Content-Type: application/json\r\n"
ANSWER_TIMEOUT = 30  # seconds: generous; a server that waits for the rest of the body never answers


@pytest.fixture(params=["daphne", "runheartbeat"])
def server(request, transactional_db):
    if request.param == "daphne":
        process = Web(name="body-limit-daphne")
    else:  # a PBX that is never there: the link retries in the background, HTTP is what is tested
        process = Server("ws://127.0.0.1:9/PBX0/APPS/websocket", "unused", name="body-limit-embedded")
    yield process
    process.stop()


def answer_while_unfinished(port: int, head: str, sent: list[bytes]) -> tuple[int, dict]:
    """Send the head and `sent`, then nothing more; the status and JSON body the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as connection:
        connection.sendall(head.encode("ascii"))
        for part in sent:
            connection.sendall(part)
        data = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                pytest.fail(f"no answer within {ANSWER_TIMEOUT} s: the server is waiting for the rest of the body")
            if not chunk:
                break
            data += chunk
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0 and b"content-length:" in data[:head_end].lower():
                length = int(data[:head_end].lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(data) >= head_end + 4 + length:
                    break
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1] or b"{}")


@pytest.mark.parametrize("path", ["/api/v1/triggers", "/accounts/login/"])
def test_a_declared_300_mb_body_is_refused_after_the_headers(server, path):
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{JSON}Content-Length: 300000000\r\n\r\n"
    status, body = answer_while_unfinished(server.port, head, [b"{" + b" " * 4096])
    assert status == 413 and body["error"] == "payload_too_large"


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server, settings):
    head = f"POST /api/v1/triggers HTTP/1.1\r\nHost: 127.0.0.1\r\n{JSON}Transfer-Encoding: chunked\r\n\r\n"
    chunk = b"400\r\n" + b" " * 0x400 + b"\r\n"  # 1 KiB chunks; the terminating 0-chunk is never sent
    status, body = answer_while_unfinished(server.port, head, [chunk] * (settings.TRIGGER_MAX_BODY // 0x400 + 1))
    assert status == 413 and body["error"] == "payload_too_large"
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as response:  # and it still serves
        assert response.status == 200
