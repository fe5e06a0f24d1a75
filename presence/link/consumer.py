"""The `pbx-link` channel consumer: turns channel messages into wake-ups of the running link."""

from __future__ import annotations

from channels.consumer import AsyncConsumer, get_handler_name

from presence.link.service import LinkService


class PbxLinkConsumer(AsyncConsumer):
    """Messages are hints; the database holds the work. Without a running link they are dropped."""

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch first tidies this thread's database connections through a thread hop
        # (and a health-check query) for every message; these handlers touch no database.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def trigger_queued(self, message: dict) -> None:
        if LinkService.running is not None:
            LinkService.running.wake()
