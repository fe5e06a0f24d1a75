"""Tests of the PBX link: the real client against the real simulator over a real websocket.

Shared helpers live here (the modules are plain asyncio tests and need no Django database).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from presence.pbx import LinkConfig, PbxClient
from presence.pbx.simulator import PbxSimulator, SimUser

APP = "presencebridge"
PASSWORD = "s3cr3t"


class Recorder:
    """A PbxEvents owner that remembers every callback, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.connected = 0
        self.disconnects: list[str] = []
        self.users: dict[str, dict] = {}
        self.batches: list[tuple[int, bool]] = []  # (rows, initial_done) per on_users call
        self.initial_loads = 0
        self.deleted: list[str] = []
        self.presence: dict[str, list[dict]] = {}
        self.states: dict[str, dict | None] = {}
        self._loading = False

    async def on_connected(self) -> None:
        self.connected += 1
        self._loading = True
        self.calls.append(("connected", None))

    async def on_disconnected(self, reason: str) -> None:
        self.disconnects.append(reason)
        self.calls.append(("disconnected", reason))

    async def on_users(self, rows: list[dict], *, initial_done: bool) -> None:
        self.batches.append((len(rows), initial_done))
        for row in rows:
            self.users[row["guid"]] = row
        self.calls.append(("users", (rows, initial_done)))
        if initial_done and self._loading:
            # The first initial_done after a login ends that connection's initial load.
            self._loading = False
            self.initial_loads += 1

    async def on_user_deleted(self, guid: str) -> None:
        self.deleted.append(guid)
        self.calls.append(("deleted", guid))

    async def on_presence(self, guid: str, presence: list[dict], state: dict | None) -> None:
        self.presence[guid] = presence
        self.states[guid] = state
        self.calls.append(("presence", (guid, presence, state)))


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Polls `predicate` until true; fails the test after `timeout` s.

    The timeout is a hang guard, generous on purpose: the machine running the suite may be busy.
    How fast things happen is measured by tests/bench/bench_link_timing.py, never asserted here.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def simulator(users: list[SimUser] | None = None, **kwargs: Any) -> AsyncIterator[PbxSimulator]:
    kwargs.setdefault("app", APP)
    kwargs.setdefault("password", PASSWORD)
    sim = PbxSimulator(users=users, **kwargs)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def config_for(url: str, **overrides: Any) -> LinkConfig:
    """A LinkConfig for `url`. The timeouts are long (a busy machine must not turn an answer or a slow
    websocket opening into a timeout); tests about timeouts set their own."""
    values: dict[str, Any] = {"app": APP, "password": PASSWORD, "request_timeout": 30.0, "connect_timeout": 30.0}
    values.update(overrides)
    return LinkConfig(url=url, **values)


@asynccontextmanager
async def running_client(url: str, **overrides: Any) -> AsyncIterator[tuple[PbxClient, Recorder]]:
    """A PbxClient running against `url` for the duration of the block, then stopped."""
    events = Recorder()
    client = PbxClient(config_for(url, **overrides), events)
    task = asyncio.create_task(client.run())
    try:
        yield client, events
    finally:
        await client.stop()
        await task
