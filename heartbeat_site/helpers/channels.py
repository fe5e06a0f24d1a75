"""A Channels worker that runs on a loop the caller owns.

`channels.worker.Worker.run()` blocks and owns the event loop; the PBX link needs the worker on its
own loop (daphne's, in the embedded default). So the worker's two coroutines, `handle()` and
`application_checker()`, are scheduled directly — Channels internals, checked by
tests/test_framework_overrides.py on every upgrade.
"""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer
from channels.routing import get_default_application
from channels.worker import Worker


def start_channel_worker(channels: list[str]) -> list[asyncio.Future]:
    """Serve the ASGI application's channel consumers for `channels` on the running loop; cancel to stop."""
    worker = Worker(application=get_default_application(), channels=channels, channel_layer=get_channel_layer())
    return [asyncio.ensure_future(worker.handle()), asyncio.ensure_future(worker.application_checker())]
