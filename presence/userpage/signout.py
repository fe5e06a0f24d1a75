"""Signing out closes the user page's sockets of that session (and only that session).

The socket is authenticated once, at connect, by the session; without this it kept streaming the
person's presence after they signed out, until it happened to reconnect. Each socket joins a group
named after its session (hashed: channel names end up in Redis), and `user_logged_out` — sent by
Django's logout, also when SSO switches to another name — tells that group to close.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("presence.userpage")
SEND_TIMEOUT = 2.0  # a layer slower than this is down: signing out must not wait for it


def session_group(session_key: str) -> str:
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:40]


async def _send(group: str) -> None:
    await asyncio.wait_for(get_channel_layer().group_send(group, {"type": "session.ended"}), SEND_TIMEOUT)


def close_sockets_of_session(sender, request, user, **kwargs) -> None:
    """Receiver of `user_logged_out` (connected in PresenceConfig.ready)."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key or get_channel_layer() is None:
        return
    try:
        async_to_sync(_send)(session_group(key))
    except Exception as exc:  # the layer is down: the sign-out itself must still succeed
        log.warning("could not close the signed-out session's sockets (%s)", exc or type(exc).__name__)
