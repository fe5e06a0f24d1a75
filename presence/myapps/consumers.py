"""The two app websockets, `/myapps/user` and `/myapps/admin`: the standard app-service sign-in, then the app.

    page → {"mt":"AppChallenge"}                  ← {"mt":"AppChallengeResult","challenge":"…"}
    page → {"mt":"AppLogin",app,domain,sip,guid,dn,info,digest}
                                                  ← {"mt":"AppLoginResult","ok":true}
                                                  | {"mt":"AppLoginResult","ok":false,"error":"…","code":"…"}

as innovaphone's own app services answer, so that their JavaScript client library works too. A
refused login closes the socket (the official client then retries with a new challenge).

For the user app the socket *is* the session: after the login it carries the user's state, live
presence and press outcomes, and takes presses — no cookie, so it works where third-party cookies
are blocked. The admin app's socket only hands out a one-time ticket that the page posts to
`/myapps/admin/signin`, which opens the framed admin session.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from presence.link.pagefeed import presence_group
from presence.models import PbxUser
from presence.myapps import signin, tokens, userapp
from presence.myapps.config import ADMIN, USER, app_language, app_object
from presence.myapps.signin import SignInRefused
from presence.userpage import services

CLOSE_REFUSED = 4403
MAX_MESSAGE = 32 * 1024
NOT_JSON = _("Messages are JSON text of at most 32 KiB.")
SIGN_IN_FIRST = _("Sign in first (AppChallenge, AppLogin).")
NO_SUCH_COMMAND = _("This app takes no command %(mt)s.")


def language_of(scope: dict) -> str:
    """The app's language from `?lang=` of the socket URL (myApps' language), else the default."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang") or [""]
    return app_language(values[0])


class AppSocket(AsyncJsonWebsocketConsumer, ABC):
    """The sign-in both apps share; `signed_in` and `command` are each app's own."""

    role: str = ""
    lang: str = settings.LANGUAGE_CODE
    challenge: str | None = None
    user_id: int | None = None

    async def connect(self) -> None:
        self.lang = language_of(self.scope)
        await self.accept()

    @classmethod
    async def decode_json(cls, text_data: str):
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if text_data is None or len(text_data) > MAX_MESSAGE:
            await self.send_json({"mt": "Error", "error": self.say(NOT_JSON)})
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content, **kwargs) -> None:
        mt = content.get("mt") if isinstance(content, dict) else None
        if mt == "AppChallenge":
            await self.app_challenge()
        elif mt == "AppLogin":
            await self.app_login(content)
        elif self.user_id is None:
            await self.send_json({"mt": "Error", "error": self.say(SIGN_IN_FIRST)})
        else:
            await self.command(mt, content)

    def say(self, message, **params) -> str:
        """A sentence for people, in this socket's language."""
        with translation.override(self.lang):
            return str(message) % params if params else str(message)

    async def app_challenge(self) -> None:
        try:
            self.challenge = await sync_to_async(tokens.new_challenge, thread_sensitive=False)()
        except tokens.TokenStoreUnavailable:
            await self.refuse(SignInRefused("unavailable"))
            return
        await self.send_json({"mt": "AppChallengeResult", "challenge": self.challenge})

    async def app_login(self, message: dict) -> None:
        if self.user_id is not None:
            await self.send_json({"mt": "AppLoginResult", "ok": True})
            return
        challenge, self.challenge = self.challenge, None  # one login per challenge, whatever happens
        try:
            user = await database_sync_to_async(signin.sign_in)(message, challenge, app_object(self.role))
        except SignInRefused as refusal:
            await self.refuse(refusal)
            return
        self.user_id = user.pk
        await self.signed_in(user)

    async def refuse(self, refusal: SignInRefused) -> None:
        with translation.override(self.lang):
            error = refusal.detail
        await self.send_json({"mt": "AppLoginResult", "ok": False, "error": error, "code": refusal.code})
        await self.close(code=CLOSE_REFUSED)

    @abstractmethod
    async def signed_in(self, user: PbxUser) -> None:
        """After a good AppLogin: answer it (`AppLoginResult` ok) and start the app, or refuse after all."""

    async def command(self, mt: str | None, content: dict) -> None:
        await self.send_json({"mt": "Error", "error": self.say(NO_SUCH_COMMAND, mt=repr(mt))})

    def in_language(self, fn):
        """`fn` run in a worker thread with the database, in this socket's language."""
        lang = self.lang

        def call(*args, **kwargs):
            with translation.override(lang):
                return fn(*args, **kwargs)

        return database_sync_to_async(call)


class UserAppSocket(AppSocket):
    role = USER
    group: str | None = None

    async def signed_in(self, user: PbxUser) -> None:
        # Join first, read second (as the user page's socket): a presence change between the two is
        # then in the state we read or delivered to us afterwards — never lost.
        self.group = presence_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"mt": "AppLoginResult", "ok": True})
        await self.send_json(await self.in_language(userapp.state)(user.pk))

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def command(self, mt: str | None, content: dict) -> None:
        src = content.get("src")
        if mt == "Press":
            client = self.scope.get("client") or [None]
            result = await self.in_language(userapp.press)(self.user_id, content.get("preset"), source_ip=client[0])
            await self.send_json({"mt": "PressResult", "src": src, **result})
        elif mt == "PressStatus":
            result = await self.in_language(userapp.press_status)(self.user_id, content.get("id"))
            await self.send_json({"mt": "PressStatusResult", "src": src, **result})
        else:
            await super().command(mt, content)

    # ---- from the PBX link worker, for this user only (presence/link/pagefeed.py) -----------------
    async def presence_changed(self, event: dict) -> None:
        with translation.override(self.lang):
            view = services.presence_view(event.get("activity", ""), event.get("note", ""))
        await self.send_json(userapp.presence(view))

    async def trigger_outcome(self, event: dict) -> None:
        with translation.override(self.lang):
            outcome = services.outcome_view(event)
        await self.send_json({"mt": "Outcome", **outcome})


class AdminAppSocket(AppSocket):
    role = ADMIN

    async def signed_in(self, user: PbxUser) -> None:
        try:
            ticket = await sync_to_async(tokens.new_ticket, thread_sensitive=False)(
                {"guid": user.guid, "lang": self.lang}
            )
        except tokens.TokenStoreUnavailable:
            await self.refuse(SignInRefused("unavailable"))
            return
        await self.send_json({"mt": "AppLoginResult", "ok": True})
        await self.send_json({"mt": "SignIn", "url": "/myapps/admin/signin", "ticket": ticket})
