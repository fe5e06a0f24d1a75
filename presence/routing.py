"""Channels routes owned by the presence app: the user page's websocket and the PBX link channel."""

from presence.link.consumer import PbxLinkConsumer
from presence.link.handoff import LINK_CHANNEL

websocket_routes: list = []
channel_routes = {LINK_CHANNEL: PbxLinkConsumer.as_asgi()}
