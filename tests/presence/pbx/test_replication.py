"""PbxTableUsers replication: the initial load in batches, then live adds, updates and deletes."""

from __future__ import annotations

from presence.pbx import normalise_user_row
from presence.pbx.simulator import SimUser, generate_users

from . import running_client, simulator, wait_until


async def test_5000_users_replicate_in_batches() -> None:
    users = generate_users(5000)
    async with simulator(users) as sim:
        async with running_client(sim.url) as (_, events):
            await wait_until(lambda: events.initial_loads == 1, timeout=120, what="the initial load")
        assert len(events.users) == 5000
        # Batches of at most 500 without initial_done, then one call with initial_done.
        assert all(rows <= 500 and not done for rows, done in events.batches[:-1])
        assert events.batches[-1][1] is True
        assert sum(rows for rows, _ in events.batches) == 5000
        assert events.users[users[1234].guid] == {
            "guid": users[1234].guid,
            "h323": "user1234",
            "cn": "User1234",
            "dn": "User 1234",
            "e164": "2234",
            "node": "root",
            "emails": ["user1234@example.com"],
        }


async def test_live_changes_reach_the_owner() -> None:
    users = generate_users(3)
    async with simulator(users) as sim, running_client(sim.url) as (_, events):
        await wait_until(lambda: events.initial_loads == 1, what="the initial load")

        await sim.update_user(users[0].guid, dn="User Zero", emails=["zero@example.com", "u0@example.com"])
        await wait_until(lambda: events.users[users[0].guid]["dn"] == "User Zero", what="the update")
        assert events.calls[-1] == ("users", ([events.users[users[0].guid]], True))
        assert events.users[users[0].guid]["emails"] == ["zero@example.com", "u0@example.com"]

        newcomer = SimUser(guid="ab" * 16, h323="newbie", cn="Newbie", e164="3000")
        await sim.add_user(newcomer)
        await wait_until(lambda: newcomer.guid in events.users, what="the add")
        assert events.users[newcomer.guid]["h323"] == "newbie"

        await sim.delete_user(users[2].guid)
        await wait_until(lambda: events.deleted == [users[2].guid], what="the delete")


async def test_it_can_leave_replication_off() -> None:
    async with simulator(generate_users(3)) as sim, running_client(sim.url, replicate_users=False) as (client, events):
        await client.wait_connected(timeout=30)
        await sim.update_user(sim.users[0].guid, dn="Nobody listens")
        await wait_until(lambda: events.connected == 1, what="on_connected")
        assert events.batches == []


def test_rows_are_normalised_to_every_column_with_plain_emails() -> None:
    assert normalise_user_row({"guid": "g", "h323": "a", "emails": [{"email": "a@x"}, {"email": ""}, "b@x"]}) == {
        "guid": "g",
        "h323": "a",
        "cn": "",
        "dn": "",
        "e164": "",
        "node": "",
        "emails": ["a@x", "b@x"],
    }
