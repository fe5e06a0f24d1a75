"""`/ws/presence/`: the signed-in user's own presence, live, and the outcome of their presses.

The socket only ever talks about one person, the one the session belongs to: it resolves the
session's user to a PBX user at connect (same identity matching as triggers) and joins that user's
group and no other. It listens to nothing the browser sends — there is no command through which a
page could name a user; buttons go through the CSRF-protected POST endpoint.

The Origin check is `heartbeat_site.helpers.origins.OriginCheck` around the whole websocket stack (asgi.py):
scheme, host and port must be this service's own or PUBLIC_URL's, so a page on another site — or on
another port of the same host — cannot open this socket with the user's cookies.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation

from heartbeat_site.helpers.language import scope_language
from presence.link.pagefeed import presence_group
from presence.models import PbxUser
from presence.userpage import services
from presence.userpage.signout import session_group
from triggers.queue import Refused

log = logging.getLogger("presence.userpage")

# Close codes in the application range (4000–4999), so the page can tell "sign in again" from a
# network drop and not retry in a loop: 4000 + the HTTP status that the page would have answered.
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_REFUSED = 4403


class PresenceSocket(AsyncJsonWebsocketConsumer):
    group: str | None = None
    session_group: str | None = None
    lang: str = "en"

    async def connect(self) -> None:
        # What it says (presence labels, why a press was not set) is in the page's language.
        self.lang = scope_language(self.scope)
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
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:  # signing out of this session closes this socket (signout.py)
            self.session_group = session_group(session_key)
            await self.channel_layer.group_add(self.session_group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(_fresh_presence)(user.pk, self.lang))

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.session_group is not None:
            await self.channel_layer.group_discard(self.session_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        # Deliberately not decoded: the socket takes no commands, so nothing sent here can act.
        await self.send_json(
            {"type": "error", "detail": "This connection only reports your presence; it accepts no commands."}
        )

    # ---- messages from the PBX link worker (presence/link/pagefeed.py) ---------------------------
    async def presence_changed(self, event: dict) -> None:
        with translation.override(self.lang):
            view = services.presence_view(event.get("activity", ""), event.get("note", ""))
        await self.send_json(view)

    async def session_ended(self, event: dict) -> None:
        """The session signed out: the page must sign in again (4401), and hears nothing more."""
        await self.close(code=CLOSE_NOT_SIGNED_IN)

    async def trigger_outcome(self, event: dict) -> None:
        with translation.override(self.lang):
            outcome = services.outcome_view(event)
        await self.send_json({"type": "outcome", **outcome})


def _fresh_presence(user_id: int, lang: str) -> dict:
    user = PbxUser.objects.only("presence").get(pk=user_id)
    with translation.override(lang):
        return services.current_presence(user)
