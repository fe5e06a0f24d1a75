"""The client against a hand-written peer that misbehaves in ways the simulator never would.

The peer is a tiny websockets server: it accepts any login (unless told otherwise), then sends the
frames under test, then a marker row. The client must stay up (or reconnect when the frame was too
big), and must understand what is valid, fragmented or not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from presence.pbx import LoginFailed, check_login, compact_json

from . import config_for, running_client, wait_until


def row_add(guid: str) -> str:
    return compact_json({"api": "PbxTableUsers", "mt": "ReplicateAdd", "columns": {"guid": guid, "h323": guid}})


def marker(n: int) -> str:
    """A valid live row that proves the client still reads after what came before it."""
    return row_add(f"marker-{n}")


@dataclass
class FakePbx:
    url: str = ""
    logins: int = 0
    received: list[str] = field(default_factory=list)


async def accept_login(ws: ServerConnection) -> None:
    await ws.recv()  # AppChallenge
    await ws.send('{"mt":"AppChallengeResult","challenge":"1"}')
    await ws.recv()  # AppLogin: any digest; this peer tests robustness, not the login
    await ws.send('{"mt":"AppLoginResult","ok":true}')


@asynccontextmanager
async def fake_pbx(handler: Callable[[ServerConnection, FakePbx], Awaitable[None]]) -> AsyncIterator[FakePbx]:
    pbx = FakePbx()

    async def handle(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await handler(ws, pbx)
            async for message in ws:  # stay open, remember what the client says
                pbx.received.append(message)

    async with serve(handle, "127.0.0.1", 0, ping_interval=None) as server:
        pbx.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/PBX0/APPS/websocket"
        yield pbx


def sending(first: list) -> Callable[[ServerConnection, FakePbx], Awaitable[None]]:
    """A handler that logs the client in, sends `first` on the first connection only, then a marker."""

    async def handler(ws: ServerConnection, pbx: FakePbx) -> None:
        await accept_login(ws)
        pbx.logins += 1
        if pbx.logins == 1:
            for frame in first:
                await ws.send(frame)
        await ws.send(marker(pbx.logins))

    return handler


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(["{not json", '{"mt":'], id="invalid-json"),
        pytest.param(["[1,2,3]", '"text"', "42", "null"], id="json-that-is-no-object"),
        pytest.param([b"\xff\xfe\x00binary"], id="binary-junk"),
        pytest.param(
            ['{"mt":"KeepAlive"}', '{"mt":"PbxInfo","version":"14r1"}', '{"api":"PbxApi","mt":"Whatever"}'],
            id="keepalive-and-unknown-messages",
        ),
        pytest.param(
            [
                '{"api":"PbxApi","mt":"PresenceUpdate","src":"nobody","presence":[]}',
                '{"api":"PbxApi","mt":"PresenceUpdate","src":5,"presence":"x"}',
                '{"api":"PbxApi","mt":"SetPresenceResult","src":"nothing-pending"}',
                '{"api":"PbxTableUsers","mt":"ReplicateAdd","columns":{}}',
                '{"api":"PbxTableUsers","mt":"ReplicateDel","columns":"x"}',
                '{"api":"PbxTableUsers","mt":"ReplicateNextResult","columns":{"guid":"stray"}}',
                '{"api":"PbxApi","mt":"PresenceState","src":[1]}',
                '{"api":["PbxApi"],"mt":{"x":1}}',
            ],
            id="messages-that-fit-no-request",
        ),
    ],
)
async def test_junk_from_the_pbx_is_ignored_and_the_link_stays_up(frames: list) -> None:
    async with fake_pbx(sending(frames)) as pbx, running_client(pbx.url, replicate_users=False) as (client, events):
        await wait_until(lambda: "marker-1" in events.users, what="the marker after the junk")
        assert client.connected
        assert pbx.logins == 1 and events.connected == 1 and events.disconnects == []
        assert set(events.users) == {"marker-1"}


async def test_a_fragmented_message_is_understood() -> None:
    text = row_add("fragmented")
    fragments = [text[:10], text[10:25], text[25:]]
    async with fake_pbx(sending([fragments])) as pbx, running_client(pbx.url, replicate_users=False) as (_, events):
        await wait_until(lambda: "marker-1" in events.users, what="the marker")
        assert events.users["fragmented"]["h323"] == "fragmented"
        assert pbx.logins == 1


async def test_a_frame_beyond_the_size_limit_drops_the_connection_and_the_link_reconnects() -> None:
    big = row_add("x" * (2 << 20))  # 2 MiB, twice max_message
    async with fake_pbx(sending([big])) as pbx, running_client(pbx.url, replicate_users=False) as (client, events):
        await wait_until(lambda: "marker-2" in events.users, what="the second connection's marker")
        assert pbx.logins == 2 and client.connected
        assert "1009" in events.disconnects[0]  # "message too big"
        assert not any(guid.startswith("xxx") for guid in events.users)


async def no_answer(ws: ServerConnection, pbx: FakePbx) -> None:
    await ws.recv()
    await ws.wait_closed()


async def no_challenge(ws: ServerConnection, pbx: FakePbx) -> None:
    await ws.recv()
    await ws.send('{"mt":"AppChallengeResult"}')


def login_answer(answer: str | None) -> Callable[[ServerConnection, FakePbx], Awaitable[None]]:
    async def handler(ws: ServerConnection, pbx: FakePbx) -> None:
        await ws.recv()
        await ws.send('{"mt":"AppChallengeResult","challenge":"609f44c1f7043ba1"}')
        await ws.recv()
        if answer is None:
            await ws.close()
        else:
            await ws.send(answer)

    return handler


@pytest.mark.parametrize(
    ("handler", "kind", "text"),
    [
        pytest.param(login_answer('{"mt":"AppLoginResult"}'), "wrong_password", "wrong password", id="no-ok"),
        pytest.param(
            login_answer('{"mt":"AppLoginResult","ok":false,"errorText":"PbxApi not enabled"}'),
            "refused",
            "App object 'presencebridge': PbxApi not enabled",
            id="ok-false-with-text",
        ),
        pytest.param(login_answer(None), "closed", "closed the connection during AppLogin", id="closed"),
        pytest.param(no_answer, "timeout", "did not answer AppChallenge within 0.3 s", id="no-challenge-answer"),
        pytest.param(no_challenge, "protocol", "without a challenge", id="empty-challenge"),
    ],
)
async def test_each_way_a_login_can_fail_has_its_own_reason(handler, kind: str, text: str) -> None:
    # A short timeout only where the timeout is the point: elsewhere a busy machine must not turn the
    # expected failure into a timeout.
    timeout = 0.3 if kind == "timeout" else 30
    async with fake_pbx(handler) as pbx:
        with pytest.raises(LoginFailed) as failure:
            await check_login(config_for(pbx.url, request_timeout=timeout))
    assert failure.value.kind == kind
    assert text in failure.value.reason


async def test_a_pbx_that_never_answers_the_upgrade_is_unreachable_after_the_connect_timeout() -> None:
    """The websocket opening has its own timeout: a short request timeout must not make a slow PBX
    unreachable, and a silent one is reported as unreachable, not as a refused login."""
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers the HTTP upgrade; returns when the client gives up

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = config_for(f"ws://127.0.0.1:{port}/PBX0/APPS/websocket", request_timeout=30, connect_timeout=0.3)
        with pytest.raises(LoginFailed) as failure:
            await check_login(config)
    finally:
        server.close()
        await server.wait_closed()
    assert accepted.is_set()
    assert failure.value.kind == "unreachable"
    assert "no websocket to the PBX" in failure.value.reason and "within 0.3 s" in failure.value.reason


def test_the_connect_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        config_for("ws://127.0.0.1:1/PBX0/APPS/websocket", connect_timeout=0)


async def test_it_warns_when_the_pbx_ignores_replication() -> None:
    """A PBX that never answers ReplicateStart most likely lacks the TableUsers grant (reference §1.2)."""

    async def handler(ws: ServerConnection, pbx: FakePbx) -> None:
        await accept_login(ws)

    async with fake_pbx(handler) as pbx, running_client(pbx.url, request_timeout=0.3) as (client, _):
        await wait_until(lambda: "TableUsers" in client.state().last_error, what="the hint")
        assert client.connected
        assert '"mt":"ReplicateStart"' in pbx.received[0]
