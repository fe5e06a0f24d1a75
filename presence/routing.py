"""Channels routes owned by the presence app: the user page's websocket and the PBX link channel."""

websocket_routes: list = []
channel_routes: dict = {}
