"""ASGI entry point: HTTP through Django, the user page's websocket, and the PBX link channel."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heartbeat_site.settings")

from heartbeat_site.helpers.asgi_http import get_pooled_asgi_application

django_asgi_app = get_pooled_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from presence.routing import channel_routes, websocket_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
        "channel": ChannelNameRouter(channel_routes),
    }
)
