"""Handing work to the PBX link worker over the channel layer.

The channel layer is at-most-once: a message may be lost (worker down, layer restarted). That is
fine because the database is the truth — the worker sweeps `queued` triggers on start and at a
short interval. A message only makes the worker act at once instead of at the next sweep.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

LINK_CHANNEL = "pbx-link"
log = logging.getLogger("presence.link")


def hand_to_link(trigger_id: int) -> None:
    send_to_link({"type": "trigger.queued", "id": trigger_id})


def send_to_link(message: dict) -> None:
    layer = get_channel_layer()
    try:
        async_to_sync(layer.send)(LINK_CHANNEL, message)
    except Exception as exc:  # the layer is full or down: the sweep will pick the work up
        log.warning("could not notify the link worker (%s); the next sweep applies it", exc)
