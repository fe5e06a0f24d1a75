"""The `pbx-link` channel consumer: turns channel messages into wake-ups of the running link."""

from __future__ import annotations

from channels.consumer import AsyncConsumer

from presence.link.service import LinkService


class PbxLinkConsumer(AsyncConsumer):
    """Messages are hints; the database holds the work. Without a running link they are dropped."""

    async def trigger_queued(self, message: dict) -> None:
        if LinkService.running is not None:
            LinkService.running.wake()

    async def seats_changed(self, message: dict) -> None:
        if LinkService.running is not None:
            LinkService.running.subscriptions_changed()
