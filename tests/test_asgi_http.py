"""The pooled ASGI handler: Django's request cycle on a fixed pool of threads, one call per request."""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.core import signals
from django.http import StreamingHttpResponse
from django.urls import path

from heartbeat_site.helpers.asgi_http import PooledASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def handler() -> PooledASGIHandler:
    return PooledASGIHandler()


async def call(handler, method: str, path: str, body: bytes = b"", headers=()) -> dict:
    headers = [(b"host", b"localhost"), (b"content-length", str(len(body)).encode()), *headers]
    communicator = HttpCommunicator(handler, method, path, body=body, headers=headers)
    response = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=10)  # the app closes the response after sending it
    return response


async def test_a_request_passes_the_whole_middleware_chain(handler):
    response = await call(handler, "GET", "/healthz")
    assert response["status"] == 200
    headers = dict(response["headers"])
    assert headers[b"X-Content-Type-Options"] == b"nosniff"  # SecurityMiddleware ran
    assert headers[b"X-Frame-Options"] == b"DENY"  # so did the clickjacking middleware


async def test_a_posted_trigger_is_read_and_accepted(handler, api_key, alice):
    response = await call(
        handler,
        "POST",
        "/api/v1/triggers",
        b'{"user": "alice", "event": "lock", "device": "PC-1"}',
        [(b"content-type", b"application/json"), (b"authorization", f"Bearer {api_key[1]}".encode())],
    )
    assert response["status"] == 202, response["body"]
    body = json.loads(response["body"])
    assert (body["user"], body["event"], body["device"]) == ("alice", "lock", "PC-1")


async def test_the_request_signals_run_on_the_pool_threads(handler):
    seen: list[tuple[str, str]] = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread().name))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        await call(handler, "GET", "/healthz")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert [event for event, _ in seen] == ["started", "finished"]
    assert all(name.startswith("http") for _, name in seen), seen


def stream(request):
    return StreamingHttpResponse(iter([b"one ", b"two"]))


urlpatterns = [path("stream", stream)]


@pytest.mark.urls(__name__)
# The view streams a plain generator on purpose, as many Django views do; Django warns about it under ASGI.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_a_streamed_response_is_sent_whole_and_then_finished_on_the_pool(handler):
    finished: list[str] = []

    def on_finished(**kwargs):
        finished.append(threading.current_thread().name)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
    }
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    signals.request_finished.connect(on_finished)
    try:
        start = await communicator.receive_output(timeout=10)
        body = b""
        while True:
            message = await communicator.receive_output(timeout=10)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout=10)
    finally:
        signals.request_finished.disconnect(on_finished)
    assert start["status"] == 200 and body == b"one two"
    assert len(finished) == 1 and finished[0].startswith("http")


# ---- bodies over the limit are refused while reading (security review finding 1) ----------------
async def started_response(communicator) -> dict:
    """The response's start message, received while the request body is still unfinished."""
    return await communicator.receive_output(timeout=10)


def scope_for(path: str, headers: list) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"localhost"), *headers],
    }


@pytest.mark.parametrize(
    ("path", "declared"),
    [("/api/v1/triggers", 300_000_000), ("/accounts/login/", 300_000_000), ("/api/v1/triggers", 4097)],
    ids=["api-300-mb", "login-300-mb", "api-one-byte-over"],
)
async def test_a_declared_oversized_body_is_refused_before_any_of_it_is_read(handler, path, declared):
    """No key, no body sent: the 413 comes from the Content-Length alone (the 401 came after buffering it all)."""
    communicator = ApplicationCommunicator(handler, scope_for(path, [(b"content-length", str(declared).encode())]))
    start = await started_response(communicator)
    assert start["status"] == 413
    body = await communicator.receive_output(timeout=10)
    assert json.loads(body["body"])["error"] == "payload_too_large"


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(handler, settings):
    """Chunked, no Content-Length: the answer comes after the first chunk over the limit, not at the end."""
    communicator = ApplicationCommunicator(handler, scope_for("/api/v1/triggers", []))
    chunk = b"x" * 1024
    for _ in range(settings.TRIGGER_MAX_BODY // len(chunk) + 1):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
    start = await started_response(communicator)  # more_body is still True: the rest is never read
    assert start["status"] == 413


async def test_a_body_within_the_limit_is_read_whole(handler, api_key, alice):
    body = json.dumps({"user": "alice", "event": "lock", "device": "d" * 250}).encode()
    communicator = ApplicationCommunicator(
        handler,
        scope_for(
            "/api/v1/triggers",
            [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"authorization", f"Bearer {api_key[1]}".encode()),
            ],
        ),
    )
    parts = [body[:100], body[100:200], body[200:]]
    for n, part in enumerate(parts, 1):
        await communicator.send_input({"type": "http.request", "body": part, "more_body": n < len(parts)})
    assert (await started_response(communicator))["status"] == 202
