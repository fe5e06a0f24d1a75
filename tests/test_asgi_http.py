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
