"""PostgreSQL wake-ups: a committed queued trigger reaches the listening link worker, and only then.

Real commits (transactional tests) and a second real connection listening, as the worker does. The
notification comes from the database itself (triggers/migrations/0002): every way a trigger is queued
wakes the worker, and nothing else does. "Nothing arrived" is proven with a marker notification sent
after the action, never with a pause.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from presence.link import wakeups
from presence.link.wakeups import NOTIFY_CHANNEL
from tests.postgresql import only_on_postgresql
from triggers import queue
from triggers.models import Trigger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    only_on_postgresql("LISTEN/NOTIFY is PostgreSQL's"),
]
MARKER = "marker"


@pytest.fixture
def listener():
    """A connection LISTENing like the link worker; `.before_marker()` counts wake-ups sent so far."""
    conn = psycopg.connect(**wakeups.listen_params(), autocommit=True)
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    class Listener:
        def before_marker(self) -> int:
            """Wake-ups that arrived before a marker sent now (notifications arrive in commit order)."""
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, MARKER])
            for count, note in enumerate(conn.notifies(timeout=30)):
                if note.payload == MARKER:
                    return count
            raise AssertionError("the marker notification never arrived")

    yield Listener()
    conn.close()


def queued_row(user) -> Trigger:
    return Trigger(pbx_user=user, user_value=user.h323, event="lock", at=timezone.now())


def test_an_accepted_trigger_wakes_the_link_worker(api_client, auth, alice, listener):
    response = api_client.post("/api/v1/triggers", {"user": "alice", "event": "lock"}, format="json", **auth)
    assert response.status_code == 202, response.content
    assert listener.before_marker() == 1


def test_a_refused_trigger_does_not_wake_the_link_worker(api_client, auth, alice, listener):
    response = api_client.post("/api/v1/triggers", {"user": "nobody", "event": "lock"}, format="json", **auth)
    assert response.status_code == 404
    assert Trigger.objects.get().status == "refused"
    assert listener.before_marker() == 0


def test_a_button_press_and_heartbeat_lost_wake_the_link_worker(alice, make_user, listener):
    queue.press(alice, 1, username="alice", source_ip=None, key_name="user page")
    queue.raise_heartbeat_lost([(alice, timezone.now()), (make_user("bob"), timezone.now())], timezone.now())
    # One statement per row; PostgreSQL folds equal notifications of one transaction into one.
    assert listener.before_marker() == 2


def test_the_wakeup_waits_for_the_commit_and_a_rollback_sends_none(alice, listener):
    with pytest.raises(RuntimeError), transaction.atomic():
        queued_row(alice).save()
        raise RuntimeError("rolled back")
    assert listener.before_marker() == 0 and not Trigger.objects.exists()
    with transaction.atomic():
        queued_row(alice).save()
        queued_row(alice).save()
    assert listener.before_marker() == 1  # one commit, one wake-up


def test_the_worker_listener_wakes_on_notify_and_again_after_its_connection_is_killed(alice):
    wakes: list[float] = []
    loop = asyncio.new_event_loop()
    woken = asyncio.Event()

    def wake() -> None:
        wakes.append(loop.time())
        woken.set()

    async def scenario() -> None:
        task = asyncio.ensure_future(wakeups.listen_for_wakeups(wake, wakeups.listen_params()))
        await asyncio.wait_for(woken.wait(), 30)  # the wake-up right after LISTEN
        for round_ in range(2):
            woken.clear()
            count = len(wakes)
            await asyncio.to_thread(lambda: queued_row(alice).save())
            await asyncio.wait_for(woken.wait(), 30)
            assert len(wakes) == count + 1
            if round_ == 0:
                # What a PostgreSQL restart does to the listening connection; it reconnects by itself.
                woken.clear()
                await asyncio.to_thread(_terminate_listeners)
                await asyncio.wait_for(woken.wait(), 30)  # the wake-up after LISTEN again
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        connection.close()  # used from the to_thread threads' own connections too


def _terminate_listeners() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        )
