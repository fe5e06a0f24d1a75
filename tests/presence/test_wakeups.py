"""PostgreSQL wake-ups: a committed trigger reaches the listening link worker at once, and only then.

Real commits (transactional tests) and a second real connection listening, as the worker does.
"""

from __future__ import annotations

import asyncio
import itertools

import psycopg
import pytest
from django.db import connection, transaction

from heartbeat_site.rowsql import insert_row
from presence.link import listen
from presence.link.handoff import NOTIFY_CHANNEL, hand_to_link
from tests.postgresql import only_on_postgresql
from triggers.models import Trigger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    only_on_postgresql("LISTEN/NOTIFY is PostgreSQL's"),
]


@pytest.fixture
def listener():
    """A connection LISTENing like the link worker; `.received()` counts the wake-ups committed so far.

    It counts up to a marker that it sends itself: PostgreSQL delivers notifications in commit order,
    so once the marker arrives, every wake-up committed before it has arrived too, and one that did
    not arrive was never sent (no short wait standing in for "nothing came").
    """
    conn = psycopg.connect(**listen.listen_params(), autocommit=True)
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
    markers = itertools.count(1)

    class Listener:
        def received(self) -> int:
            marker = f"marker-{next(markers)}"
            conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, marker])
            for count, notify in enumerate(conn.notifies(timeout=30)):
                if notify.payload == marker:
                    return count
            raise AssertionError(f"the listener's own {marker} did not come back within 30 s")

    yield Listener()
    conn.close()


def test_an_accepted_trigger_wakes_the_link_worker(api_client, auth, alice, listener):
    response = api_client.post("/api/v1/triggers", {"user": "alice", "event": "lock"}, format="json", **auth)
    assert response.status_code == 202, response.content
    assert listener.received() == 1


def test_a_refused_trigger_does_not_wake_the_link_worker(api_client, auth, alice, listener):
    response = api_client.post("/api/v1/triggers", {"user": "nobody", "event": "lock"}, format="json", **auth)
    assert response.status_code == 404
    assert Trigger.objects.get().status == "refused"
    assert listener.received() == 0


def test_the_wakeup_waits_for_the_commit_and_a_rollback_sends_none(alice, listener):
    trigger = Trigger(pbx_user=alice, user_value="alice", event="lock", at=alice.updated_at)
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_row(trigger, notify=NOTIFY_CHANNEL)
        assert listener.received() == 0  # not before the commit
        raise RuntimeError("rolled back")
    assert listener.received() == 0 and not Trigger.objects.exists()
    with transaction.atomic():
        insert_row(
            Trigger(pbx_user=alice, user_value="alice", event="lock", at=alice.updated_at), notify=NOTIFY_CHANNEL
        )
        assert listener.received() == 0
    assert listener.received() == 1


def test_hand_to_link_notifies_for_the_other_paths(listener):
    hand_to_link(1)  # e.g. a button press, after its commit
    assert listener.received() == 1


def test_the_worker_listener_wakes_on_notify_and_again_after_its_connection_is_killed():
    wakes: list[float] = []
    loop = asyncio.new_event_loop()
    woken = asyncio.Event()

    def wake() -> None:
        wakes.append(loop.time())
        woken.set()

    async def scenario() -> None:
        task = asyncio.ensure_future(listen.listen_for_wakeups(wake, listen.listen_params()))
        await asyncio.wait_for(woken.wait(), 30)  # the wake-up right after LISTEN
        for round_ in range(2):
            woken.clear()
            count = len(wakes)
            await asyncio.to_thread(hand_to_link, 1)
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
