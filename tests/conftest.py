"""Fixtures shared by every test module."""

from __future__ import annotations

import time

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from rest_framework.test import APIClient

from licensing.models import Seat
from presence.link import handoff
from presence.link.handoff import LINK_CHANNEL, NOTIFY_CHANNEL
from presence.models import PbxUser
from triggers import accept
from triggers.models import ApiKey


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters, cached settings and keys must not leak from one test into the next."""
    from licensing import state
    from presence import models
    from triggers.auth import forget_process_state

    def forget() -> None:
        cache.clear()
        forget_process_state()
        models._settings_memo.clear()
        state._local = None

    forget()
    yield
    forget()


@pytest.fixture(autouse=True)
def valid_licence(request, _fresh_cache, settings, monkeypatch):
    """Every test that uses the database runs under a valid licence with plenty of seats.

    Without one, `refusal_for` refuses every trigger ("licence_expired"); tests about licensing
    itself opt out with `@pytest.mark.no_licence`. The issuer key pair is the suite's own
    (tests/licensing/support.py), trusted through LICENSE_PUBLIC_KEY for this test only — also in
    the environment, so that worker processes a test starts trust the same key.
    """
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if request.node.get_closest_marker("no_licence") or not uses_db:
        yield None
        return
    from tests.licensing.support import ISSUER_PUBLIC, install_licence

    monkeypatch.setenv("LICENSE_PUBLIC_KEY", ISSUER_PUBLIC)
    request.getfixturevalue("db")  # the database access the test asked for (transactional or not)
    yield install_licence(settings)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_key(db) -> tuple[ApiKey, str]:
    """A working key: (row, clear key)."""
    return ApiKey.create("test scripts")


@pytest.fixture
def auth(api_key) -> dict:
    """Request headers carrying the working key."""
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key[1]}"}


@pytest.fixture
def make_user(db):
    """Creates a PBX user (licensed unless told otherwise)."""
    counter = iter(range(1, 100000))

    def make(h323: str, *, licensed: bool = True, **fields) -> PbxUser:
        n = next(counter)
        fields.setdefault("guid", f"{n:032x}")
        fields.setdefault("cn", h323.title())
        user = PbxUser.objects.create(h323=h323, **fields)
        if licensed:
            Seat.objects.create(user_guid=user.guid)
        return user

    return make


@pytest.fixture
def alice(make_user) -> PbxUser:
    return make_user("alice", emails=["alice@corp.example"], e164="201")


class LinkMessages(list):
    """What was handed to the real channel layer for the PBX link worker during the test."""

    def settled(self, expected: int = 0, timeout: float = 2.0) -> list[dict]:
        """The messages once `expected` have arrived (some are sent from a background thread), plus a
        short grace so that an unexpected extra one is seen too."""
        deadline = time.monotonic() + timeout
        while len(self) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.15)
        return list(self)


@pytest.fixture
def link_sent(monkeypatch) -> LinkMessages:
    """Records every message handed to the link worker: over the channel layer, and on PostgreSQL the
    NOTIFY wake-ups (a NOTIFY inside the test's transaction is never delivered, so the calls that
    send one are recorded as `trigger.queued` and still run).

    Everything up to the layer's `send` is the real code (handoff, its sender thread on Redis).
    The message is recorded instead of delivered: receiving it back would race on Redis (a
    cancelled receive leaves a blocking pop on the server that swallows the next message), and a
    delivered message would be left over for whatever listens on the channel in a later test.
    """
    layer = get_channel_layer()
    sent = LinkMessages()
    original = layer.send

    async def send(channel: str, message: dict) -> None:
        if channel == LINK_CHANNEL:
            sent.append(message)
        else:
            await original(channel, message)

    monkeypatch.setattr(layer, "send", send)

    def notify_link() -> None:
        sent.append({"type": "trigger.queued"})
        real_notify_link()

    def insert_row(obj, *, notify=None):
        pk = real_insert_row(obj, notify=notify)
        if notify == NOTIFY_CHANNEL:
            sent.append({"type": "trigger.queued"})
        return pk

    real_notify_link, real_insert_row = handoff._notify_link, accept.insert_row
    monkeypatch.setattr(handoff, "_notify_link", notify_link)
    monkeypatch.setattr(accept, "insert_row", insert_row)
    return sent
