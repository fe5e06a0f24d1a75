"""Channels routes owned by the presence app: the user page's and the myApps apps' websockets, the PBX link channel."""

from django.urls import path

from presence.link.wakeups import LINK_CHANNEL, PbxLinkConsumer
from presence.myapps.consumers import AdminAppSocket, UserAppSocket
from presence.userpage.consumers import PresenceSocket

websocket_routes: list = [
    path("ws/presence/", PresenceSocket.as_asgi()),
    # The App URLs themselves (innovaphone's client opens its websocket at the App URL, http → ws).
    path("myapps/user", UserAppSocket.as_asgi()),
    path("myapps/admin", AdminAppSocket.as_asgi()),
]
channel_routes = {LINK_CHANNEL: PbxLinkConsumer.as_asgi()}
