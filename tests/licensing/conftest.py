"""Fixtures for the licensing tests."""

from __future__ import annotations

import time

import pytest
from channels.layers import get_channel_layer

from presence.link.handoff import LINK_CHANNEL


class LinkMessages(list):
    """What was handed to the real channel layer for the PBX link worker during the test."""

    def settled(self, expected: int = 0, timeout: float = 2.0) -> list[dict]:
        """The messages once `expected` have arrived (some are sent from a background thread), plus a
        short grace so that an unexpected extra one is seen too."""
        deadline = time.monotonic() + timeout
        while len(self) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.15)
        return list(self)


@pytest.fixture
def link_sent(monkeypatch) -> LinkMessages:
    """Records every message handed to the channel layer for the link worker.

    Everything up to the layer's `send` is the real code (handoff, its sender thread on Redis).
    The message is recorded instead of delivered: receiving it back would race on Redis (a
    cancelled receive leaves a blocking pop on the server that swallows the next message), and a
    delivered message would be left over for whatever listens on the channel in a later test.
    """
    layer = get_channel_layer()
    sent = LinkMessages()
    original = layer.send

    async def send(channel: str, message: dict) -> None:
        if channel == LINK_CHANNEL:
            sent.append(message)
        else:
            await original(channel, message)

    monkeypatch.setattr(layer, "send", send)
    return sent
