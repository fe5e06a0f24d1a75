"""Presence subscriptions: what the owner wants is what the PBX watches, and changes come back at once."""

from __future__ import annotations

import asyncio
import time

from presence.pbx.simulator import generate_users

from . import running_client, simulator, wait_until


async def test_a_subscribed_user_reports_state_and_presence_changes() -> None:
    users = generate_users(3)
    guid = users[0].guid
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({guid: "user0"})
        await wait_until(lambda: guid in events.presence, what="the first PresenceUpdate")
        assert events.states[guid] == {
            "up": True,
            "sip": "user0",
            "num": "1000",
            "dn": "User 0",
            "email": "user0@example.com",
        }
        assert [item["contact"] for item in events.presence[guid]] == ["tel:", "im:"]

        await sim.set_presence_from_phone("user0", "busy", "On a call")
        await wait_until(lambda: events.presence[guid][0]["activity"] == "busy", what="the phone's change")
        assert events.presence[guid][0] == {
            "contact": "tel:",
            "status": "open",
            "activity": "busy",
            "note": "On a call",
        }

        # Our own SetPresence comes back the same way; the newest contact is first (reference §3.3).
        await client.set_presence(guid=guid, activity="away", note="Back soon", contact="calendar:")
        await wait_until(lambda: events.presence[guid][0]["contact"] == "calendar:", what="our own change")
        assert [item["contact"] for item in events.presence[guid]] == ["calendar:", "tel:", "im:"]


async def test_users_removed_from_the_wanted_set_are_unsubscribed() -> None:
    users = generate_users(3)
    a, b, c = (u.guid for u in users)
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({a: "user0", b: "user1"})
        await wait_until(lambda: sim.subscriptions == {a, b}, what="two subscriptions")
        await wait_until(lambda: a in events.presence and b in events.presence, what="a's and b's first updates")
        client.want_subscriptions({a: "user0", c: "user2"})
        await wait_until(lambda: sim.subscriptions == {a, c}, what="b swapped for c")
        assert client.state().subscriptions == 2

        await wait_until(lambda: c in events.presence, what="c's first update")
        await sim.set_presence_from_phone("user1", "dnd", "")
        await sim.set_presence_from_phone("user0", "dnd", "")
        await wait_until(lambda: events.presence[a][0]["activity"] == "dnd", what="a's update")
        assert events.presence[b][0]["activity"] == ""  # nothing more for b after the unsubscribe

        client.want_subscriptions({})
        await wait_until(lambda: sim.subscriptions == set(), what="no subscriptions")


async def test_a_renamed_user_is_watched_under_the_new_name() -> None:
    users = generate_users(1)
    guid = users[0].guid
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({guid: "user0"})
        await wait_until(lambda: sim.subscriptions == {guid}, what="the subscription")
        await sim.update_user(guid, h323="user-zero")
        client.want_subscriptions({guid: "user-zero"})
        await wait_until(lambda: events.states.get(guid, {}).get("sip") == "user-zero", what="the new subscription")
        assert sim.subscriptions == {guid}


async def test_an_idle_link_sends_keepalives() -> None:
    interval = 0.2
    started = time.monotonic()
    async with simulator() as sim, running_client(sim.url, keepalive_interval=interval) as (client, _):
        await wait_until(lambda: sim.keepalives >= 3, what="three keepalives")
        # One per interval of silence at most: the third cannot come before three intervals have passed
        # (a lower bound, which a busy machine only makes easier to meet).
        assert time.monotonic() - started >= 3 * interval
        assert client.connected


async def test_flush_events_delivers_updates_received_before_a_setpresence_answer() -> None:
    """An owner storing "we set X" after the answer must never have an older update land on top."""
    users = generate_users(1)
    guid = users[0].guid
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({guid: "user0"})
        await wait_until(lambda: guid in events.presence, what="the first PresenceUpdate")
        busy = asyncio.Event()
        release = asyncio.Event()
        delivered = asyncio.Event()
        original = events.on_presence

        async def slow_on_presence(*args, **kwargs) -> None:
            busy.set()
            await release.wait()  # an owner busy writing to its database, until the test says so
            await original(*args, **kwargs)
            delivered.set()

        events.on_presence = slow_on_presence
        await sim.set_presence_from_phone("user0", "dnd", "Do not disturb")
        await wait_until(busy.is_set, what="the phone's update to reach the owner")
        await client.set_presence(guid=guid, activity="away", note="Locked")
        assert not delivered.is_set()  # the answer came back while the older update still waits its turn
        release.set()  # the owner can finish, but only once this test yields to the loop: in flush_events
        await client.flush_events(timeout=60)
        assert delivered.is_set()
        notes = [call[1][1][0]["note"] for call in events.calls if call[0] == "presence"]
        assert "Do not disturb" in notes
