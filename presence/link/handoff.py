"""Handing work to the PBX link worker over the channel layer.

On PostgreSQL the worker listens for NOTIFY instead (`presence.link.listen`): the trigger API's
INSERT notifies in the same statement, and `hand_to_link` sends one NOTIFY for the rarer paths.

The channel layer is at-most-once: a message may be lost (worker down, layer restarted). That is
fine because the database is the truth — the worker sweeps `queued` triggers on start and at a
short interval. A message only makes the worker act at once instead of at the next sweep.

How a message is sent depends on the layer:

- The in-memory layer (embedded default) only works inside the process and on the loop the link
  worker listens on, so it is reached with `async_to_sync`, which under daphne runs the send on
  daphne's loop.
- A cross-process layer (channels-redis) is reached through one long-lived event loop per process,
  on a background thread. `async_to_sync` called from a plain thread (gunicorn's sync workers,
  management commands) creates a new event loop for every call, and channels-redis keeps its
  connection pools per loop: every trigger paid a new loop, a thread and a new Redis connection —
  3.7 ms of wall time and 2.1 ms of CPU per trigger, measured (tests/bench/README.md).

"A trigger was queued" only says "look at the queue": the worker then decides everything queued, so
one message after the newest commit is enough. On a cross-process layer those wake-ups are
coalesced per process — one send in flight, and one more after it if triggers were committed
meanwhile — and the request does not wait for Redis (one RedisChannelLayer send is four round trips).
Licence changes do not travel this way: the worker reads the licence revision from the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection

LINK_CHANNEL = "pbx-link"
NOTIFY_CHANNEL = "heartbeat_link"  # PostgreSQL LISTEN/NOTIFY channel of the link worker
SEND_TIMEOUT = 2.0  # seconds; a layer slower than this is treated as down (the sweep catches up)
WARN_EVERY = 10.0  # seconds between two warnings about the same broken layer
log = logging.getLogger("presence.link")


def _link_in_this_process():
    from presence.link.service import LinkService

    service = LinkService.running
    return service if service is not None and service.loop is not None else None


def notify_on_insert() -> str | None:
    """The NOTIFY channel a trigger INSERT should carry, or None when `hand_to_link` wakes the worker."""
    if connection.vendor == "postgresql" and _link_in_this_process() is None:
        return NOTIFY_CHANNEL
    return None


def hand_to_link(trigger_id: int) -> None:
    """Tell the link worker a trigger was committed (call after commit)."""
    service = _link_in_this_process()
    if service is not None:
        # The link runs in this very process (the embedded default): wake it directly, no layer.
        service.loop.call_soon_threadsafe(service.wake)
        return
    if connection.vendor == "postgresql":
        _notify_link()
        return
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        _send_in_process(layer, {"type": "trigger.queued", "id": trigger_id})
    else:
        _sender().wake(layer)


def _notify_link() -> None:
    """NOTIFY the listening link worker (delivered at commit, at once in autocommit)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


def _send_in_process(layer, message: dict) -> None:
    try:
        async_to_sync(layer.send)(LINK_CHANNEL, message)
    except Exception as exc:  # full: the sweep will pick the work up
        _warn(exc)


_last_warning = 0.0


def _warn(exc: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY:
        _last_warning = now
        log.warning("could not notify the link worker (%s); the next sweep applies it", exc or type(exc).__name__)


class _Sender:
    """One process's long-lived sending loop on a daemon thread, and its coalesced wake-ups."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="channel-layer-sender", daemon=True).start()
        self._lock = threading.Lock()
        self._in_flight = False
        self._again = False

    @staticmethod
    async def _send(layer, message: dict) -> None:
        await asyncio.wait_for(layer.send(LINK_CHANNEL, message), SEND_TIMEOUT)

    def wake(self, layer) -> None:
        with self._lock:
            if self._in_flight:
                self._again = True  # the running send may predate our commit: one more after it
                return
            self._in_flight = True
        asyncio.run_coroutine_threadsafe(self._wake_loop(layer), self.loop)

    async def _wake_loop(self, layer) -> None:
        while True:
            try:
                await self._send(layer, {"type": "trigger.queued"})
            except Exception as exc:  # down or full: the worker's sweep applies the queue anyway
                _warn(exc)
            with self._lock:
                if not self._again:
                    self._in_flight = False
                    return
                self._again = False


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
