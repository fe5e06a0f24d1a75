"""SetPresence over the link: round trip, pipelining, PBX errors, timeouts, and waiters of a dead socket."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from presence.pbx import ConnectionLost, PbxRequestError, RequestTimeout
from presence.pbx.simulator import generate_users

from . import running_client, simulator, wait_until


async def test_it_sets_presence_and_returns_the_result() -> None:
    users = generate_users(2)
    async with simulator(users) as sim, running_client(sim.url) as (client, _):
        await client.wait_connected(timeout=30)
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
        await client.wait_connected(timeout=30)
        await client.set_presence(guid=users[0].guid, activity="away", note="Holiday")
        await client.set_presence(guid=users[0].guid, activity="dnd", note="", contact="tel:")
        assert [m["contact"] for m in sim.received] == ["calendar:", "tel:"]


async def test_500_pipelined_requests_are_all_answered_and_correlated() -> None:
    users = generate_users(50)
    window = 16
    async with simulator(users) as sim, running_client(sim.url, window=window) as (client, _):
        await client.wait_connected(timeout=30)
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
    # Each answer takes 1.2 s of a 3 s timeout (1.8 s to spare on a busy machine); three callers one
    # at a time take 3.6 s or more in all, so the last one waits longer than the timeout.
    async with simulator(users) as sim, running_client(sim.url, window=1, request_timeout=3.0) as (client, _):
        await client.wait_connected(timeout=30)
        sim.reply_delay = 1.2
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.set_presence(guid=users[0].guid, activity="away", note=str(i)) for i in range(3))
        )
        assert time.monotonic() - started > 3.0  # a lower bound: the simulator's delays add up to 3.6 s
        assert [m["note"] for m in sim.received] == ["0", "1", "2"]
        assert len({r["src"] for r in results}) == 3


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
        await client.wait_connected(timeout=30)
        with pytest.raises(PbxRequestError) as failure:
            await client.set_presence(guid=guid, activity="away", note="")
        assert (failure.value.code, failure.value.text) == (code, text)
        assert text in failure.value.reason and guid in failure.value.reason
        assert client.connected  # an error answer is not a broken link


async def test_a_slow_pbx_times_the_request_out_and_a_late_answer_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="presence.pbx")
    users = generate_users(1)
    # 2 s: the timeout is the point, yet the login and the last, fast request must fit in it on a busy
    # machine; the slow answer comes at twice that.
    async with simulator(users) as sim, running_client(sim.url, request_timeout=2.0) as (client, _):
        await client.wait_connected(timeout=30)
        sim.reply_delay = 4.0
        started = time.monotonic()
        with pytest.raises(RequestTimeout, match="did not answer SetPresence"):
            await client.set_presence(guid=users[0].guid, activity="away", note="slow")
        assert time.monotonic() - started >= 1.9  # a lower bound: it gave up at the timeout, not before
        sim.reply_delay = 0
        # The late answer reaches the client, which must drop it without confusing anything.
        await wait_until(lambda: "ignored a SetPresenceResult" in caplog.text, what="the late answer")
        assert repr(sim.received[-1]["src"]) in caplog.text
        result = await client.set_presence(guid=users[0].guid, activity="", note="fast")
        assert result["src"] == sim.received[-1]["src"]
        assert client.connected and client.state().in_flight == 0


async def test_waiters_fail_at_once_when_the_connection_dies() -> None:
    """At once means on the drop, not at the request timeout: that is 600 s here, and the answer never comes."""
    users = generate_users(20)
    async with simulator(users) as sim, running_client(sim.url, request_timeout=600) as (client, _):
        await client.wait_connected(timeout=30)
        sim.reply_delay = 600
        calls = [asyncio.create_task(client.set_presence(guid=u.guid, activity="away", note="")) for u in users]
        await wait_until(lambda: len(sim.received) == 0 and client.state().in_flight == 20, what="20 in flight")
        await sim.drop_all()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), timeout=60)
        assert all(isinstance(o, ConnectionLost) for o in outcomes), outcomes
        assert "connection to the PBX lost" in outcomes[0].reason


async def test_it_refuses_at_once_when_not_connected() -> None:
    """At once means without waiting for a connection: with a 600 s request timeout a wait would hang here."""
    async with simulator() as sim:
        url = sim.url
    async with running_client(url, request_timeout=600) as (client, _):
        await wait_until(lambda: "cannot reach" in client.state().last_error, what="a refused connect")
        with pytest.raises(ConnectionLost, match=r"not connected to the PBX.*cannot reach"):
            await asyncio.wait_for(client.set_presence(guid="00" * 16, activity="away", note=""), timeout=60)
