"""Channels routes owned by the presence app: the user page's websocket and the PBX link channel."""

from django.urls import path

from presence.link.wakeups import LINK_CHANNEL, PbxLinkConsumer
from presence.userpage.consumers import PresenceSocket

websocket_routes: list = [path("ws/presence/", PresenceSocket.as_asgi())]
channel_routes = {LINK_CHANNEL: PbxLinkConsumer.as_asgi()}
