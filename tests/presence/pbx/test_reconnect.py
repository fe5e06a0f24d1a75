"""The link comes back by itself: after dropped sockets and after a PBX that was away for a while."""

from __future__ import annotations

from presence.pbx.simulator import generate_users

from . import running_client, simulator, wait_until


async def test_it_reconnects_after_the_pbx_drops_every_connection() -> None:
    async with simulator(generate_users(3)) as sim, running_client(sim.url) as (client, events):
        await wait_until(lambda: events.initial_loads == 1, what="the first replication")
        await sim.drop_all()
        await wait_until(lambda: events.disconnects, what="on_disconnected")
        assert "connection to the PBX lost" in events.disconnects[0]
        await wait_until(lambda: client.connected and events.connected == 2, what="the reconnect")
        assert sim.logins == 2 and sim.connections == 1
        state = client.state()
        assert state.reconnects == 1 and "connection to the PBX lost" in state.last_error
        # Order as the owner sees it: connected, load, disconnected, connected, load.
        kinds = [kind for kind, _ in events.calls]
        assert kinds[0] == "connected" and kinds.index("disconnected") < len(kinds) - 1
        await wait_until(lambda: events.initial_loads == 2, what="replication done again")


async def test_it_comes_back_after_the_pbx_was_down() -> None:
    users = generate_users(3)
    async with simulator(users) as sim, running_client(sim.url) as (client, _events):
        await client.wait_connected(timeout=30)
        await sim.go_down()
        await wait_until(lambda: not client.connected, what="the link to notice")
        # Two refused connects while the PBX is away: the back-off has grown past its first step.
        await wait_until(lambda: client.state().reconnects >= 2, what="two attempts at a PBX that is away")
        assert "cannot reach the PBX" in client.state().last_error
        await sim.come_back()
        await wait_until(lambda: client.connected, what="the reconnect")
        await client.set_presence(guid=users[0].guid, activity="away", note="back")
        assert sim.presence_of("user0")["note"] == "back"
        assert client.state().reconnects >= 2


async def test_subscriptions_and_replication_are_redone_after_a_reconnect() -> None:
    users = generate_users(5)
    wanted = {u.guid: u.h323 for u in users[:3]}
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions(wanted)
        await wait_until(lambda: sim.subscriptions == set(wanted), what="the subscriptions")
        await wait_until(lambda: events.initial_loads == 1, what="the first replication")
        await sim.drop_all()
        await wait_until(lambda: sim.subscriptions == set(), what="the PBX to forget them")
        await wait_until(lambda: sim.subscriptions == set(wanted), what="the re-subscription")
        await wait_until(lambda: events.initial_loads == 2, what="replication done again")
        assert client.state().subscriptions == 3
        # Presence flows again on the new socket.
        await sim.set_presence_from_phone("user1", "dnd", "Focus")
        await wait_until(lambda: events.presence[users[1].guid][0]["activity"] == "dnd", what="the update")
