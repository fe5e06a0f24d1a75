"""Running the link: wait for the lease, then hold the PBX link and listen on the `pbx-link` channel.

Shared by `runpbxlink` (its own process) and `runheartbeat` (the embedded default: daphne, the link
and the simulator on one asyncio loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import get_default_application
from channels.worker import Worker
from django.db import close_old_connections
from django.db.backends.signals import connection_created

from presence.link import lease
from presence.link.wakeups import LINK_CHANNEL
from presence.link.worker import LinkWorker
from presence.pbx import LinkConfig

log = logging.getLogger("presence.link")


async def _try_acquire(holder: str) -> bool:
    def call() -> bool:
        close_old_connections()
        return lease.try_acquire(holder)

    return await sync_to_async(call, thread_sensitive=False)()


def plan_each_query(sender, connection, **kwargs) -> None:
    """The link worker's connections plan every statement for its values (PostgreSQL).

    psycopg prepares statements used five times, and PostgreSQL may then keep one generic plan for
    them. The worker's queries filter fast-growing tables on skewed values (queued triggers among
    millions, a heartbeat cut-off, a directory filled while it syncs) where a plan made without the
    values, or while a table was still empty, would scan the table. The API's few hot statements
    keep their cached plans (they are what saves PostgreSQL's CPU per trigger).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")


async def hold_link(config: LinkConfig, stop: asyncio.Event, *, holder: str | None = None, poll: float = 1.0) -> None:
    """Stand by until the lease is ours, then run the link and the channel worker until `stop` is set.

    Losing the lease (the database was unreachable for longer than the lease) stops the link at
    once — another worker may hold it now — and this worker goes back to standing by.
    """
    holder = holder or lease.holder_name()
    connection_created.connect(plan_each_query, dispatch_uid="link-plan-each-query")
    while not stop.is_set():
        if not await _wait_for_lease(holder, stop, poll):
            return
        log.info("holding the PBX link lease as %s", holder)
        worker = LinkWorker(config, holder=holder)
        await _run_worker(worker, stop)
        if not stop.is_set():
            log.warning("the PBX link stopped without a stop request; standing by for the lease again")
            await asyncio.sleep(poll)


async def _wait_for_lease(holder: str, stop: asyncio.Event, poll: float) -> bool:
    waiting_logged = False
    while not stop.is_set():
        try:
            if await _try_acquire(holder):
                return True
        except Exception as exc:
            log.warning("cannot reach the database for the link lease: %s", exc)
        if not waiting_logged:
            log.info("another worker holds the PBX link; standing by as %s", holder)
            waiting_logged = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
    return False


async def _run_worker(link: LinkWorker, stop: asyncio.Event) -> None:
    channels = Worker(application=get_default_application(), channels=[LINK_CHANNEL], channel_layer=get_channel_layer())
    tasks = [
        asyncio.ensure_future(link.run()),
        asyncio.ensure_future(channels.handle()),
        asyncio.ensure_future(channels.application_checker()),
    ]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([tasks[0], stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await link.stop()
        await asyncio.wait([tasks[0]], timeout=15)
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
