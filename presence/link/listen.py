"""Wake-ups over PostgreSQL LISTEN/NOTIFY: the link worker hears of a committed trigger at once.

On PostgreSQL the trigger's INSERT carries `pg_notify` (`triggers.accept`), so the wake-up is part
of the same statement and is delivered exactly when the row is committed: no second round trip, no
Redis publish per trigger (that publish was a sixth of the API's CPU per trigger under load,
measured with py-spy), nothing to send when the transaction rolls back. The database stays the
truth: a wake-up lost while this connection is down only waits for the worker's next sweep (1 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from django.db import connection
from psycopg import sql

from presence.link.handoff import NOTIFY_CHANNEL

log = logging.getLogger("presence.link")
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)


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
