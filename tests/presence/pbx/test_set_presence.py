"""SetPresence over the link: round trip, pipelining, PBX errors, timeouts, and waiters of a dead socket."""

from __future__ import annotations

import asyncio
import time

import pytest

from presence.pbx import ConnectionLost, PbxRequestError, RequestTimeout
from presence.pbx.simulator import generate_users

from . import running_client, simulator, wait_until


async def test_it_sets_presence_and_returns_the_result() -> None:
    users = generate_users(2)
    async with simulator(users) as sim, running_client(sim.url) as (client, _):
        await client.wait_connected(timeout=5)
        result = await client.set_presence(guid=users[0].guid, activity="busy", note="In a meeting until 15:00")

        sent = sim.received[-1]
        assert sent == {
            "api": "PbxApi",
            "mt": "SetPresence",
            "guid": users[0].guid,
            "contact": "tel:",
            "activity": "busy",
            "note": "In a meeting until 15:00",
            "src": sent["src"],
        }
        assert result == {"api": "PbxApi", "mt": "SetPresenceResult", "src": sent["src"]}
        assert sim.presence_of("user0") == {
            "contact": "tel:",
            "status": "open",
            "activity": "busy",
            "note": "In a meeting until 15:00",
        }
        assert sim.presence_of("user1")["activity"] == ""


async def test_it_uses_the_contact_it_is_given() -> None:
    users = generate_users(1)
    async with simulator(users) as sim, running_client(sim.url, contact="calendar:") as (client, _):
        await client.wait_connected(timeout=5)
        await client.set_presence(guid=users[0].guid, activity="away", note="Holiday")
        await client.set_presence(guid=users[0].guid, activity="dnd", note="", contact="tel:")
        assert [m["contact"] for m in sim.received] == ["calendar:", "tel:"]


async def test_500_pipelined_requests_are_all_answered_and_correlated() -> None:
    users = generate_users(50)
    window = 16
    async with simulator(users) as sim, running_client(sim.url, window=window) as (client, _):
        await client.wait_connected(timeout=5)
        peak = 0

        async def watch_in_flight() -> None:
            nonlocal peak
            while True:
                peak = max(peak, client.state().in_flight)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch_in_flight())
        calls = [(users[i % 50].guid, f"note {i}") for i in range(500)]
        results = await asyncio.gather(*(client.set_presence(guid=g, activity="away", note=n) for g, n in calls))
        watcher.cancel()

        by_src = {m["src"]: m for m in sim.received}
        assert len(by_src) == 500  # every request had its own src
        for (guid, note), result in zip(calls, results, strict=True):
            request = by_src[result["src"]]
            assert (request["guid"], request["note"]) == (guid, note)
        assert 1 < peak <= window  # pipelined, but never beyond the window
        assert client.state().in_flight == 0


async def test_callers_beyond_the_window_queue_instead_of_timing_out() -> None:
    """The timeout is for the PBX's answer: a busy but healthy link queues callers, it does not fail them."""
    users = generate_users(1)
    async with simulator(users) as sim, running_client(sim.url, window=1, request_timeout=0.3) as (client, _):
        await client.wait_connected(timeout=5)
        sim.reply_delay = 0.1
        started = time.perf_counter()
        results = await asyncio.gather(
            *(client.set_presence(guid=users[0].guid, activity="away", note=str(i)) for i in range(6))
        )
        assert time.perf_counter() - started > 0.6  # one at a time, longer than the timeout in total
        assert [m["note"] for m in sim.received] == [str(i) for i in range(6)]
        assert len({r["src"] for r in results}) == 6


@pytest.mark.parametrize(
    ("guid", "fault", "code", "text"),
    [
        pytest.param("ff" * 16, None, 1, "not found", id="unknown-user"),
        pytest.param(None, (7, "no permission"), 7, "no permission", id="pbx-error"),
    ],
)
async def test_a_pbx_error_raises_with_its_code_and_text(guid, fault, code: int, text: str) -> None:
    users = generate_users(1)
    guid = guid or users[0].guid
    async with simulator(users) as sim, running_client(sim.url) as (client, _):
        if fault:
            sim.set_presence_error[guid] = fault
        await client.wait_connected(timeout=5)
        with pytest.raises(PbxRequestError) as failure:
            await client.set_presence(guid=guid, activity="away", note="")
        assert (failure.value.code, failure.value.text) == (code, text)
        assert text in failure.value.reason and guid in failure.value.reason
        assert client.connected  # an error answer is not a broken link


async def test_a_slow_pbx_times_the_request_out_and_a_late_answer_is_ignored() -> None:
    users = generate_users(1)
    async with simulator(users) as sim, running_client(sim.url, request_timeout=0.3) as (client, _):
        await client.wait_connected(timeout=5)
        sim.reply_delay = 0.6
        started = time.perf_counter()
        with pytest.raises(RequestTimeout, match="did not answer SetPresence"):
            await client.set_presence(guid=users[0].guid, activity="away", note="slow")
        assert 0.25 < time.perf_counter() - started < 0.6
        sim.reply_delay = 0
        await asyncio.sleep(0.5)  # the late answer arrives meanwhile and must not confuse anything
        result = await client.set_presence(guid=users[0].guid, activity="", note="fast")
        assert result["src"] == sim.received[-1]["src"]
        assert client.connected and client.state().in_flight == 0


async def test_waiters_fail_at_once_when_the_connection_dies() -> None:
    users = generate_users(20)
    async with simulator(users) as sim, running_client(sim.url, request_timeout=10) as (client, _):
        await client.wait_connected(timeout=5)
        sim.reply_delay = 10
        calls = [asyncio.create_task(client.set_presence(guid=u.guid, activity="away", note="")) for u in users]
        await wait_until(lambda: len(sim.received) == 0 and client.state().in_flight == 20, what="20 in flight")
        started = time.perf_counter()
        await sim.drop_all()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert time.perf_counter() - started < 0.5  # not after the 10 s request timeout
        assert all(isinstance(o, ConnectionLost) for o in outcomes), outcomes
        assert "connection to the PBX lost" in outcomes[0].reason


async def test_it_refuses_at_once_when_not_connected() -> None:
    async with simulator() as sim:
        url = sim.url
    async with running_client(url) as (client, _):
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        with pytest.raises(ConnectionLost, match=r"not connected to the PBX.*cannot reach"):
            await client.set_presence(guid="00" * 16, activity="away", note="")
        assert time.perf_counter() - started < 0.05
