"""`/ws/presence/`: the signed-in user's own presence, live, and the outcome of their presses.

The socket only ever talks about one person, the one the session belongs to: it resolves the
session's user to a PBX user at connect (same identity matching as triggers) and joins that user's
group and no other. It listens to nothing the browser sends — there is no command through which a
page could name a user; buttons go through the CSRF-protected POST endpoint.

The Origin check is `AllowedHostsOriginValidator` around the whole websocket stack (asgi.py), so a
page on another site cannot open this socket with the user's cookies.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from presence.link.pagefeed import presence_group
from presence.models import PbxUser
from presence.userpage import services
from triggers.queue import Refused

log = logging.getLogger("presence.userpage")

# Close codes in the application range (4000–4999), so the page can tell "sign in again" from a
# network drop and not retry in a loop: 4000 + the HTTP status that the page would have answered.
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_REFUSED = 4403


class PresenceSocket(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        django_user = self.scope.get("user")
        if django_user is None or not django_user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        try:
            user = await database_sync_to_async(services.page_user)(django_user)
        except Refused as refusal:
            log.info("presence socket refused for %r: %s", django_user.get_username(), refusal.code)
            await self.close(code=CLOSE_NOT_SIGNED_IN if refusal.status == 401 else CLOSE_REFUSED)
            return
        # Join first, read second: a PresenceUpdate arriving between the two is then either in the
        # value we read or delivered to us afterwards — never lost.
        self.group = presence_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(_fresh_presence)(user.pk))

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        # Deliberately not decoded: the socket takes no commands, so nothing sent here can act.
        await self.send_json(
            {"type": "error", "detail": "This connection only reports your presence; it accepts no commands."}
        )

    # ---- messages from the PBX link worker (presence/link/pagefeed.py) ---------------------------
    async def presence_changed(self, event: dict) -> None:
        await self.send_json(services.presence_view(event.get("activity", ""), event.get("note", "")))

    async def trigger_outcome(self, event: dict) -> None:
        await self.send_json(
            {"type": "outcome", "id": event["id"], "status": event["status"], "reason": event.get("reason", "")}
        )


def _fresh_presence(user_id: int) -> dict:
    user = PbxUser.objects.only("presence").get(pk=user_id)
    return services.current_presence(user)
