"""The pooled ASGI handler: Django's request cycle on a fixed pool of threads, one call per request."""

from __future__ import annotations

import json
import threading

import pytest
from channels.testing import HttpCommunicator
from django.core import signals

from heartbeat_site.asgi_http import PooledASGIHandler

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
