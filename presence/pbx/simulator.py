"""A PBX simulator: a websocket server that speaks the subset of the innovaphone AppWebsocket protocol
this service uses, the way the reference describes the PBX (login with digest check, PbxTableUsers
replication, PbxApi presence, pushes on change).

It is a faithful peer, not a mock: the client cannot tell it from a PBX, and tests drive the real
client against it over a real socket. Where the PBX's behaviour is undocumented the simulator does
what the reference marks as [INFERRED] (e.g. `ok:false` then close on a bad login, error 1
"not found" for an unknown user). Fault switches (`refuse_logins`, `reply_delay`,
`set_presence_error`, `drop_all`, `go_down`/`come_back`) let tests break it on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .digest import login_digest

log = logging.getLogger("presence.pbx.simulator")

WS_PATH = "/PBX0/APPS/websocket"
USER_COLUMNS = ("guid", "h323", "cn", "dn", "e164", "node", "emails")


def _default_presence() -> list[dict]:
    return [
        {"contact": "tel:", "status": "open", "activity": "", "note": ""},
        {"contact": "im:", "status": "open", "activity": "", "note": ""},
    ]


@dataclass
class SimUser:
    """A user object on the simulated PBX."""

    guid: str
    h323: str
    cn: str = ""
    dn: str = ""
    e164: str = ""
    node: str = "root"
    emails: list[str] = field(default_factory=list)
    presence: list[dict] = field(default_factory=_default_presence)

    def row(self, columns: Iterable[str] = USER_COLUMNS) -> dict:
        """The replicated row; `emails` as the PBX's sub-table of `{"email": ...}` rows (reference §4.1)."""
        values = {
            "guid": self.guid,
            "h323": self.h323,
            "cn": self.cn,
            "dn": self.dn,
            "e164": self.e164,
            "node": self.node,
            "emails": [{"email": email} for email in self.emails],
        }
        return {column: values[column] for column in columns if column in values}


@dataclass
class SimApp:
    """An App object on the simulated PBX, as an administrator creates one for a myApps app.

    `users` are the login names (h323) whose Apps tab has it ticked — directly or through their
    config template; None: everybody's.
    """

    name: str
    password: str = field(repr=False)
    long_name: str = ""
    url: str = ""
    users: set[str] | None = None

    def assigned_to(self, user: SimUser) -> bool:
        return self.users is None or user.h323.lower() in {name.lower() for name in self.users}


def generate_users(n: int) -> list[SimUser]:
    """Demo users user0…user{n-1}: guid 32 hex digits, number 1000+i, e-mail user{i}@example.com."""
    return [
        SimUser(
            guid=f"{0x5EED0000 + i:032x}",
            h323=f"user{i}",
            cn=f"User{i}",
            dn=f"User {i}",
            e164=str(1000 + i),
            emails=[f"user{i}@example.com"],
        )
        for i in range(n)
    ]


class _Replication:
    """One connection's replication of the users table."""

    def __init__(self, src: Any, columns: list[str], guids: Iterable[str]) -> None:
        self.src = src
        self.columns = columns
        self.pending: deque[str] = deque(guids)  # rows of the initial load not yet sent


class _SimConnection:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.challenge: str | None = None
        self.logged_in = False
        self.replication: _Replication | None = None
        self.subs: dict[Any, str | None] = {}  # src -> guid of the watched user (None: unknown target)
        self.inbox: asyncio.Queue[tuple[float, str | bytes]] = asyncio.Queue()


class PbxSimulator:
    """The simulated PBX. `await start()`, point a client at `url`, `await stop()`."""

    def __init__(
        self,
        *,
        app: str = "presencebridge",
        password: str = "pwd",  # noqa: S107 - the simulator's demo App object password, as in the reference's vectors
        users: list[SimUser] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        challenge: str | None = None,
        apps: list[SimApp] | None = None,
        domain: str = "example.com",
    ) -> None:
        self.app = app
        self.password = password
        self.apps: dict[str, SimApp] = {app_object.name: app_object for app_object in apps or []}
        self.domain = domain
        self.host = host
        self.port = port
        self.challenge = challenge
        # Fault switches.
        self.refuse_logins = False
        self.reply_delay = 0.0
        self.set_presence_error: dict[str, tuple[int, str]] = {}
        # Subscriptions are answered, but their first PresenceUpdate is held back until
        # `release_presence_reports()`: a PBX that reports presence late (the protocol sets no bound).
        self.hold_presence_reports = False
        self._held_reports: list[tuple[_SimConnection, Any, str]] = []
        # SetPresence for these guids is applied, then the connection drops before the answer is sent:
        # the client cannot know whether the PBX took it. Each guid once.
        self.lose_answer_for: set[str] = set()
        # (time.monotonic(), guid) of every SubscribePresence for a known user: when the link subscribed whom.
        self.subscribe_log: list[tuple[float, str]] = []
        # What happened, for tests and the ops command.
        self.received: list[dict] = []
        self.keepalives = 0
        self.logins = 0
        # time.monotonic() of each AppLogin, in order: tests read the client's back-off from the gaps.
        self.login_times: list[float] = []
        self.last_login: dict | None = None
        self._users: dict[str, SimUser] = {}
        self._by_h323: dict[str, str] = {}
        self._by_e164: dict[str, str] = {}
        self._watchers: dict[str, set[tuple[_SimConnection, Any]]] = {}
        self._conns: set[_SimConnection] = set()
        self._server: Server | None = None
        self._usn = 0
        self._replication_guid = secrets.token_hex(16)
        self._api_handlers = self._make_api_handlers()
        self.add_users(users or [])

    # ----- life cycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    @property
    def login_attempts(self) -> int:
        """AppLogins received, accepted or refused."""
        return len(self.login_times)

    @property
    def connections(self) -> int:
        """Connections currently logged in."""
        return sum(1 for conn in self._conns if conn.logged_in)

    @property
    def subscriptions(self) -> set[str]:
        """Guids with at least one presence subscription, across all connections."""
        return {guid for guid, watchers in self._watchers.items() if watchers}

    @property
    def users(self) -> list[SimUser]:
        return list(self._users.values())

    async def start(self) -> None:
        """Starts listening (on the port of the previous start, if any: `come_back` relies on it)."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_path,
            ping_interval=None,
            max_size=1 << 20,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("PBX simulator listening on %s with %d users", self.url, len(self._users))

    async def stop(self) -> None:
        await self.go_down()

    async def drop_all(self) -> None:
        """Drops every connection without a closing handshake, like a PBX that restarts."""
        for conn in list(self._conns):
            conn.logged_in = False
            conn.ws.transport.abort()

    async def go_down(self) -> None:
        """Stops listening and drops every connection."""
        await self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def come_back(self) -> None:
        """Listens again on the same port after `go_down`."""
        await self.start()

    # ----- users (test / ops API) --------------------------------------------------------------

    def add_users(self, users: Iterable[SimUser]) -> None:
        """Adds users without telling anybody; for seeding before `start()` (use `add_user` when live)."""
        for user in users:
            self._users[user.guid] = user
            self._index(user)

    async def add_user(self, user: SimUser) -> None:
        self.add_users([user])
        await self._push_row("ReplicateAdd", user)

    async def update_user(self, guid: str, **changes: Any) -> None:
        """Changes a user's fields (e.g. `dn="New Name"`) and pushes ReplicateUpdate with the whole row."""
        user = self._users[guid]
        known = {f.name for f in fields(SimUser)} - {"guid"}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"SimUser has no field(s) {', '.join(sorted(unknown))}")
        self._unindex(user)
        for name, value in changes.items():
            setattr(user, name, value)
        self._index(user)
        await self._push_row("ReplicateUpdate", user)
        if "presence" in changes:
            await self._push_presence(user)

    async def delete_user(self, guid: str) -> None:
        """Removes a user: ReplicateDel to replicators, PresenceState up:false to watchers."""
        user = self._users.pop(guid)
        self._unindex(user)
        self._usn += 1
        for conn, replication in self._replicators():
            message = {"api": "PbxTableUsers", "mt": "ReplicateDel", "usn": self._usn, "columns": {"guid": guid}}
            await self._send(conn, self._with_src(message, replication.src))
        for conn, src in list(self._watchers.pop(guid, ())):
            conn.subs[src] = None
            await self._send(conn, self._with_src({"api": "PbxApi", "mt": "PresenceState", "up": False}, src))

    def presence_of(self, guid_or_h323: str) -> dict:
        """A copy of the user's `tel:` presence entry."""
        user = self._user(guid_or_h323)
        if user is None:
            raise KeyError(guid_or_h323)
        entry = next((item for item in user.presence if item.get("contact") == "tel:"), None)
        return dict(entry) if entry else {}

    async def set_presence_from_phone(self, guid_or_h323: str, activity: str, note: str, contact: str = "tel:") -> None:
        """As if the user changed presence on the phone or in myApps: update and push PresenceUpdate."""
        user = self._user(guid_or_h323)
        if user is None:
            raise KeyError(guid_or_h323)
        self._apply_presence(user, contact, activity, note)
        await self._push_presence(user)

    # ----- myApps: a user's login for an app (reference innovaphone-myapps-apps.md §2) -----------

    def app_login(self, app: str, user: str, challenge: str) -> dict:
        """The `Login` message myApps posts into an app's frame after asking the PBX (`AppGetLogin`) for
        the user signed into myApps: the login fields and `info`, signed with the App object's password
        over the app's challenge — the same digest the PBX computes.

        A user the app is not assigned to gets no login: the PBX's error payload is undocumented, so
        `error`/`errorText` here are [INF] (reference §4).
        """
        app_object = self.apps.get(app)
        found = self._user(user)
        if app_object is None:
            return {"mt": "Login", "app": app, "error": 2, "errorText": f"no App object {app!r}"}
        if found is None:
            return {"mt": "Login", "app": app, "error": 1, "errorText": f"no user {user!r}"}
        if not app_object.assigned_to(found):
            return {"mt": "Login", "app": app, "error": 3, "errorText": "app not assigned to this user"}
        apps = [{"name": a.name, "dn": a.long_name} for a in self.apps.values() if a.assigned_to(found)]
        info = {
            "appobj": app_object.name,
            "appdn": app_object.long_name,
            "appurl": app_object.url,
            "cn": found.cn,
            "apps": apps,
            "pbx": "master",
        }
        fields = {"app": app, "domain": self.domain, "sip": found.h323, "guid": found.guid, "dn": found.dn}
        digest = login_digest(password=app_object.password, challenge=challenge, info=info, **fields)
        # No `key`/`salt`: the session key for encrypted app messages is not needed for signing in.
        return {"mt": "Login", **fields, "pbxObj": app_object.name, "info": info, "digest": digest}

    def apps_of(self, user: str) -> list[str]:
        """The App object Names assigned to a user (what their myApps would show)."""
        found = self._user(user)
        return [a.name for a in self.apps.values() if found is not None and a.assigned_to(found)]

    # ----- connections -------------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != WS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _SimConnection(ws)
        self._conns.add(conn)
        worker = asyncio.create_task(self._work(conn))
        loop = asyncio.get_running_loop()
        try:
            async for raw in ws:
                conn.inbox.put_nowait((loop.time(), raw))
        except ConnectionClosed:
            pass
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            self._forget(conn)

    async def _work(self, conn: _SimConnection) -> None:
        """Handles one connection's messages in order; `reply_delay` delays each by that much."""
        loop = asyncio.get_running_loop()
        while True:
            received_at, raw = await conn.inbox.get()
            wait = received_at + self.reply_delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._on_message(conn, raw)
            except ConnectionClosed:
                return

    def _forget(self, conn: _SimConnection) -> None:
        conn.logged_in = False
        self._conns.discard(conn)
        for src, guid in conn.subs.items():
            if guid is not None:
                self._watchers.get(guid, set()).discard((conn, src))

    async def _on_message(self, conn: _SimConnection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        api, mt = message.get("api"), message.get("mt")
        if api is None:
            base = {"AppChallenge": self._app_challenge, "AppLogin": self._app_login, "KeepAlive": self._keepalive}
            handler = base.get(str(mt))
            if handler is not None:
                await handler(conn, message)
            return
        if not conn.logged_in:
            # No API without a login.
            await conn.ws.close(code=1008, reason="not logged in")
            return
        handler = self._api_handlers.get((str(api), str(mt)))
        if handler is not None:
            await handler(conn, message)

    def _make_api_handlers(self) -> dict[tuple[str, str], Callable]:
        return {
            ("PbxApi", "SetPresence"): self._set_presence,
            ("PbxApi", "SubscribePresence"): self._subscribe,
            ("PbxApi", "UnsubscribePresence"): self._unsubscribe,
            ("PbxTableUsers", "ReplicateStart"): self._replicate_start,
            ("PbxTableUsers", "ReplicateNext"): self._replicate_next,
        }

    # ----- AppWebsocket login (reference §2.2) ---------------------------------------------------

    async def _app_challenge(self, conn: _SimConnection, message: dict) -> None:
        # Innovaphone PBXs use 16 digits (reference §2.2); the challenge is single-use.
        conn.challenge = self.challenge or f"{secrets.randbelow(10**16):016d}"
        await self._send(conn, {"mt": "AppChallengeResult", "challenge": conn.challenge})

    async def _app_login(self, conn: _SimConnection, message: dict) -> None:
        self.login_times.append(time.monotonic())
        self.last_login = dict(message)
        challenge, conn.challenge = conn.challenge, None
        info = message.get("info")
        expected = login_digest(
            app=self.app,
            password=self.password,
            challenge=challenge or "",
            domain=str(message.get("domain", "")),
            sip=str(message.get("sip", "")),
            guid=str(message.get("guid", "")),
            dn=str(message.get("dn", "")),
            # An absent info (or an empty string, as the C++ sample treats it) is left out of the hash.
            info=info if isinstance(info, dict) else None,
        )
        ok = (
            challenge is not None
            and message.get("app") == self.app
            and hmac.compare_digest(expected, str(message.get("digest", "")))
            and not self.refuse_logins
        )
        if not ok:
            # The PBX's failure payload is undocumented; the reference suggests ok:false, then close.
            await self._send(conn, {"mt": "AppLoginResult", "ok": False})
            await conn.ws.close(code=1008, reason="login failed")
            return
        conn.logged_in = True
        self.logins += 1
        await self._send(conn, {"mt": "AppLoginResult", "ok": True})

    async def _keepalive(self, conn: _SimConnection, message: dict) -> None:
        # Whether the PBX answers KeepAlive is unconfirmed (reference §8): it stays silent here.
        self.keepalives += 1

    # ----- PbxTableUsers (reference §4.1) ------------------------------------------------------

    async def _replicate_start(self, conn: _SimConnection, message: dict) -> None:
        requested = message.get("columns")
        names = list(requested) if isinstance(requested, dict) and requested else list(USER_COLUMNS)
        columns = [name for name in names if name in USER_COLUMNS]
        conn.replication = _Replication(message.get("src"), columns, list(self._users))
        reply = {
            "api": "PbxTableUsers",
            "mt": "ReplicateStartResult",
            "columns": {name: {} for name in columns},
            "guid": self._replication_guid,
            "usn": self._usn,
        }
        await self._send(conn, self._with_src(reply, message.get("src")))

    async def _replicate_next(self, conn: _SimConnection, message: dict) -> None:
        replication = conn.replication
        reply = self._with_src({"api": "PbxTableUsers", "mt": "ReplicateNextResult"}, message.get("src"))
        while replication is not None and replication.pending:
            user = self._users.get(replication.pending.popleft())
            if user is not None:  # deleted since ReplicateStart: skip it
                reply |= {"usn": self._usn, "columns": user.row(replication.columns)}
                break
        # Without columns, the reply marks the end of the initial table.
        await self._send(conn, reply)

    def _replicators(self) -> list[tuple[_SimConnection, _Replication]]:
        return [(conn, conn.replication) for conn in self._conns if conn.logged_in and conn.replication is not None]

    async def _push_row(self, mt: str, user: SimUser) -> None:
        self._usn += 1
        for conn, replication in self._replicators():
            message = {"api": "PbxTableUsers", "mt": mt, "usn": self._usn, "columns": user.row(replication.columns)}
            await self._send(conn, self._with_src(message, replication.src))

    # ----- PbxApi presence (reference §3) ------------------------------------------------------

    async def _subscribe(self, conn: _SimConnection, message: dict) -> None:
        src = message.get("src")
        old = conn.subs.pop(src, None)
        if old is not None:
            self._watchers.get(old, set()).discard((conn, src))
        user = self._find(sip=message.get("sip"), num=message.get("num"))
        conn.subs[src] = user.guid if user else None
        await self._send(conn, self._with_src({"api": "PbxApi", "mt": "SubscribePresenceResult"}, src))
        if user is None:
            # Reference §7.4 [INFERRED]: an unknown target is a monitor that is not up.
            state = {"api": "PbxApi", "mt": "PresenceState", "up": False}
            for key in ("sip", "num"):
                if key in message:
                    state[key] = message[key]
            await self._send(conn, self._with_src(state, src))
            return
        self._watchers.setdefault(user.guid, set()).add((conn, src))
        self.subscribe_log.append((time.monotonic(), user.guid))
        state = {
            "api": "PbxApi",
            "mt": "PresenceState",
            "up": True,
            "sip": user.h323,
            "num": user.e164,
            "dn": user.dn,
            "email": user.emails[0] if user.emails else "",
        }
        await self._send(conn, self._with_src(state, src))
        if self.hold_presence_reports:
            self._held_reports.append((conn, src, user.guid))
            return
        await self._send(conn, self._presence_update(user, src))

    async def release_presence_reports(self) -> int:
        """Sends the PresenceUpdates held back by `hold_presence_reports` (and stops holding); returns how many."""
        self.hold_presence_reports = False
        held, self._held_reports = self._held_reports, []
        for conn, src, guid in held:
            user = self._users.get(guid)
            if user is not None and conn in self._conns and conn.subs.get(src) == guid:
                await self._send(conn, self._presence_update(user, src))
        return len(held)

    async def _unsubscribe(self, conn: _SimConnection, message: dict) -> None:
        src = message.get("src")
        if src not in conn.subs:
            # The SDK keys subscriptions by src (reference §3.2); fall back to the sip for old clients.
            sip = str(message.get("sip", "")).lower()
            src = next((s for s, g in conn.subs.items() if g and self._users[g].h323.lower() == sip), src)
        guid = conn.subs.pop(src, None)
        if guid is not None:
            self._watchers.get(guid, set()).discard((conn, src))
        await self._send(conn, self._with_src({"api": "PbxApi", "mt": "UnsubscribePresenceResult"}, src))

    async def _set_presence(self, conn: _SimConnection, message: dict) -> None:
        self.received.append(dict(message))
        src = message.get("src")
        user = self._find(guid=message.get("guid"), sip=message.get("sip"))
        reply = self._with_src({"api": "PbxApi", "mt": "SetPresenceResult"}, src)
        if user is None:
            # Error codes are undocumented (reference §7.4 [INFERRED]).
            await self._send(conn, reply | {"error": 1, "errorText": "not found"})
            return
        if user.guid in self.set_presence_error:
            code, text = self.set_presence_error[user.guid]
            await self._send(conn, reply | {"error": code, "errorText": text})
            return
        # What SetPresence does without a contact is unconfirmed (reference §8); "tel:" here.
        contact = str(message.get("contact") or "tel:")
        self._apply_presence(user, contact, str(message.get("activity") or ""), str(message.get("note") or ""))
        if user.guid in self.lose_answer_for:
            # Applied, but the link breaks before the answer (and any PresenceUpdate) goes out.
            self.lose_answer_for.discard(user.guid)
            conn.logged_in = False
            conn.ws.transport.abort()
            return
        await self._send(conn, reply)
        await self._push_presence(user)

    def _apply_presence(self, user: SimUser, contact: str, activity: str, note: str) -> None:
        """Updates one contact's entry and moves it to the front: presence[0] is the newest (reference §3.3)."""
        entry = next((item for item in user.presence if item.get("contact") == contact), None)
        if entry is None:
            entry = {"contact": contact, "status": "open", "activity": "", "note": ""}
        else:
            user.presence.remove(entry)
        entry["activity"] = activity
        entry["note"] = note
        user.presence.insert(0, entry)

    def _presence_update(self, user: SimUser, src: Any) -> dict:
        update = {"api": "PbxApi", "mt": "PresenceUpdate", "presence": [dict(item) for item in user.presence]}
        return self._with_src(update, src)

    async def _push_presence(self, user: SimUser) -> None:
        for conn, src in list(self._watchers.get(user.guid, ())):
            await self._send(conn, self._presence_update(user, src))

    # ----- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _with_src(message: dict, src: Any) -> dict:
        # The PBX copies the request's src into its answers and into a subscription's indications (§2.1).
        if src is not None:
            message["src"] = src
        return message

    async def _send(self, conn: _SimConnection, message: dict) -> None:
        # A peer that went away meanwhile is not an error for the simulator.
        with contextlib.suppress(ConnectionClosed):
            await conn.ws.send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    def _index(self, user: SimUser) -> None:
        self._by_h323[user.h323.lower()] = user.guid
        if user.e164:
            self._by_e164[user.e164] = user.guid

    def _unindex(self, user: SimUser) -> None:
        if self._by_h323.get(user.h323.lower()) == user.guid:
            del self._by_h323[user.h323.lower()]
        if self._by_e164.get(user.e164) == user.guid:
            del self._by_e164[user.e164]

    def _find(self, *, guid: Any = None, sip: Any = None, num: Any = None) -> SimUser | None:
        if isinstance(guid, str) and guid:
            return self._users.get(guid)
        if isinstance(sip, str) and sip:
            return self._users.get(self._by_h323.get(sip.lower(), ""))
        if isinstance(num, str) and num:
            return self._users.get(self._by_e164.get(num, ""))
        return None

    def _user(self, guid_or_h323: str) -> SimUser | None:
        return self._users.get(guid_or_h323) or self._find(sip=guid_or_h323)


class SimulatorThread:
    """Runs a PbxSimulator on its own thread and event loop, for synchronous (Django) code and tests."""

    def __init__(self, **simulator_kwargs: Any) -> None:
        self._kwargs = simulator_kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.simulator: PbxSimulator | None = None

    def start(self) -> PbxSimulator:
        """Starts the thread; returns once the simulator listens (its `url` is then final)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self.simulator = PbxSimulator(**self._kwargs)
                loop.run_until_complete(self.simulator.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name="pbx-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the PBX simulator did not start within 30 s")
        if failure:
            raise failure[0]
        assert self.simulator is not None
        return self.simulator

    def call(self, coro_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs `coro_fn(*args, **kwargs)` on the simulator's loop and returns its result (awaited if a coroutine)."""
        if self._loop is None:
            raise RuntimeError("SimulatorThread is not started")

        async def runner() -> Any:
            result = coro_fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout=60)

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self.simulator is None:
            return
        self.call(self.simulator.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> PbxSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
