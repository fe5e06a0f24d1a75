"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from licensing.models import Seat
from presence.models import PbxUser
from triggers import queue
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


@pytest.fixture
def announced() -> list[int]:
    """Ids of the triggers the queue announced (`triggers.queue.queued`, sent on commit): what wakes the
    link worker. Sent synchronously at the commit, so a test reads it right after the commit runs;
    how the link side turns it into a wake-up is tested with real listeners (tests/presence/test_wakeups.py)."""
    heard: list[int] = []

    def hear(sender, trigger_id, **kwargs) -> None:
        heard.append(trigger_id)

    queue.queued.connect(hear, weak=False, dispatch_uid="tests-announced")
    yield heard
    queue.queued.disconnect(dispatch_uid="tests-announced")
