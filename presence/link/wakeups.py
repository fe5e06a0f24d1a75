"""Waking the link worker: one way per database, and the database stays the truth.

- **PostgreSQL**: committing a queued trigger row notifies `heartbeat_link` (a trigger on the table,
  triggers/migrations/0002); the worker holding the link LISTENs (`listen_for_wakeups`). Nothing in
  the request path sends anything: the notification is part of the commit.
- **Other databases**: `triggers.queue.queued` is sent on commit. If the link worker runs in this
  process (the embedded default) it is woken directly; otherwise the hint goes over the channel layer
  to the `pbx-link` channel, whose consumer wakes the worker there.

A lost wake-up costs at most the worker's next sweep (every second). Licence changes take another
path: `licensing.signals.licence_changed` wakes a worker in this process; elsewhere the worker polls
the licence revision.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

import psycopg
from channels.consumer import AsyncConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection
from psycopg import sql

LINK_CHANNEL = "pbx-link"
NOTIFY_CHANNEL = "heartbeat_link"  # PostgreSQL LISTEN/NOTIFY channel; the migration's trigger notifies it
SEND_TIMEOUT = 2.0  # seconds; a layer slower than this is treated as down (the sweep catches up)
WARN_EVERY = 10.0  # seconds between two warnings about the same broken layer
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
log = logging.getLogger("presence.link")


class Wakeable(Protocol):
    loop: asyncio.AbstractEventLoop | None

    def wake(self) -> None: ...

    def licence_changed(self) -> None: ...


_running: Wakeable | None = None


def register(worker: Wakeable | None) -> None:
    """The link worker of this process (None when it stops): what in-process wake-ups reach."""
    global _running
    _running = worker


def running() -> Wakeable | None:
    worker = _running
    return worker if worker is not None and worker.loop is not None else None


# ---- signal receivers (connected in presence.apps) -------------------------------------------------


def trigger_queued(sender, **kwargs) -> None:
    """`triggers.queue.queued`: a queued trigger was committed; wake the worker (not on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return  # the database notified the worker with the commit
    worker = running()
    if worker is not None and worker.loop is not None:
        worker.loop.call_soon_threadsafe(worker.wake)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        return  # only reaches this process, and no worker runs here: the worker's sweep finds it
    _sender().wake(layer)


def licence_changed(sender, **kwargs) -> None:
    """`licensing.signals.licence_changed`: a change committed in this process reaches its worker at once."""
    worker = running()
    if worker is not None and worker.loop is not None:
        worker.loop.call_soon_threadsafe(worker.licence_changed)


# ---- PostgreSQL --------------------------------------------------------------------------------------


def listen_params() -> dict:
    """psycopg connection parameters from Django's DATABASES (without Django's adapters and cursors)."""
    params = connection.get_connection_params()
    for key in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(key, None)
    return params


async def listen_for_wakeups(wake: Callable[[], None], params: dict) -> None:
    """Call wake() for every notification on NOTIFY_CHANNEL, reconnecting until cancelled."""
    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as conn:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                if failures:
                    log.info("PostgreSQL wake-ups are back")
                failures = 0
                wake()  # whatever was committed before LISTEN took effect
                async for _ in conn.notifies():
                    wake()
        except psycopg.Error as exc:
            if failures == 0:
                log.warning("PostgreSQL wake-ups interrupted (%s); the 1 s sweep applies triggers meanwhile", exc)
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
            failures += 1


# ---- the channel layer (a worker in another process, not on PostgreSQL) ------------------------------


class PbxLinkConsumer(AsyncConsumer):
    """The `pbx-link` channel: messages are hints; the database holds the work. Dropped without a worker."""

    async def trigger_queued(self, message: dict) -> None:
        worker = running()
        if worker is not None:
            worker.wake()


class _Sender:
    """One process's long-lived sending loop on a daemon thread, and its coalesced wake-ups.

    channels-redis keeps its connection pools per event loop: `async_to_sync` from a plain thread
    (gunicorn's sync workers) made a new loop, thread and Redis connection per trigger. "A trigger was
    queued" only says "look at the queue", so one send in flight and one more after it suffice.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="channel-layer-sender", daemon=True).start()
        self._lock = threading.Lock()
        self._in_flight = False
        self._again = False

    def wake(self, layer) -> None:
        with self._lock:
            if self._in_flight:
                self._again = True  # the running send may predate our commit: one more after it
                return
            self._in_flight = True
        asyncio.run_coroutine_threadsafe(self._wake_loop(layer), self.loop)

    def idle(self) -> bool:
        """No wake-up is being sent (tests wait for this instead of sleeping)."""
        with self._lock:
            return not self._in_flight

    async def _wake_loop(self, layer) -> None:
        while True:
            try:
                await asyncio.wait_for(layer.send(LINK_CHANNEL, {"type": "trigger.queued"}), SEND_TIMEOUT)
            except Exception as exc:  # down or full: the worker's sweep applies the queue anyway
                _warn(exc)
            with self._lock:
                if not self._again:
                    self._in_flight = False
                    return
                self._again = False


_last_warning = 0.0


def _warn(exc: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY:
        _last_warning = now
        log.warning("could not wake the link worker (%s); the next sweep applies the queue", exc or type(exc).__name__)


_senders_lock = threading.Lock()
_senders: dict[int, _Sender] = {}  # by pid: a forked child (gunicorn --preload) starts its own


def _sender() -> _Sender:
    pid = os.getpid()
    sender = _senders.get(pid)
    if sender is None:
        with _senders_lock:
            sender = _senders.get(pid)
            if sender is None:
                sender = _senders[pid] = _Sender()
    return sender
