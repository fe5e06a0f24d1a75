"""The AppWebsocket client: one authenticated websocket to the PBX, kept up for as long as it runs.

It logs in to an App object (reference §2), replicates the users table (§4.1), keeps presence
subscriptions for the users its owner wants (§3.2–3.3) and sets presence (§3.1), with many
`SetPresence` in flight at once, correlated by `src`. Everything that belongs to one socket
(pending requests, subscriptions, replication) dies with it; after a reconnect the client logs in
again and redoes replication and every wanted subscription, because the PBX forgets them (§2.5).

The owner (the Django worker) hears about the link through `PbxEvents` callbacks. They run one at a
time, in the order the PBX sent things, on a task of their own: a slow callback never stalls the
socket, and an exception in one is logged and forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlparse

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .config import LinkConfig, LinkState
from .digest import compact_json
from .errors import ConnectionLost, LoginFailed, PbxError, PbxRequestError, RequestTimeout
from .handshake import describe_close, login, open_websocket, parse_message

__all__ = ["PbxClient", "PbxEvents", "normalise_user_row"]

log = logging.getLogger("presence.pbx")


# The users-table columns we replicate (reference §4.1); `emails` is a sub-table.
USER_COLUMNS = ("guid", "h323", "cn", "dn", "e164", "node", "emails")
# A marker in the event queue: everything before it has been delivered (see flush_events).
_FLUSH = "__flush__"
# Rows handed to `on_users` at once during the initial load: few callbacks, bounded memory.
REPLICATION_BATCH = 500
# A `src` for our replication requests; subscriptions use the user's guid, SetPresence a counter.
REPLICATION_SRC = "users"


class PbxEvents(Protocol):
    """What the owner of the link implements. All callbacks are coroutines; exceptions are logged."""

    async def on_connected(self) -> None:
        """After every good AppLogin (the first and each reconnect)."""

    async def on_disconnected(self, reason: str) -> None:
        """After a logged-in connection ended; `reason` is human text."""

    async def on_users(self, rows: list[dict], *, initial_done: bool) -> None:
        """Replicated user rows, normalised by `normalise_user_row` (every column present).

        The initial load comes in batches with `initial_done=False`, then one call with
        `initial_done=True` (rows possibly empty) when the end marker arrives: users that the owner
        knows but that were not in this load are gone. Afterwards each live ReplicateAdd/Update is
        one call with one row and `initial_done=True`.
        """

    async def on_user_deleted(self, guid: str) -> None:
        """A live ReplicateDel."""

    async def on_presence(self, guid: str, presence: list[dict], state: dict | None) -> None:
        """A PresenceUpdate for a subscribed user: `presence` as sent (newest first, reference §3.3) and
        the last PresenceState fields (`up`, `sip`, `num`, `dn`, `email`) or None if none came yet."""


def normalise_user_row(columns: dict) -> dict:
    """A replicated row with every column in `USER_COLUMNS`: strings, and `emails` as plain strings.

    The PBX sends the `emails` sub-table as `[{"email": ...}]` (reference §4.1) and leaves empty
    columns out; rows (initial, added and updated alike) are whole rows, so a missing column is empty.
    """
    row: dict[str, Any] = {}
    for column in USER_COLUMNS:
        value = columns.get(column)
        if column == "emails":
            row[column] = _emails(value)
        else:
            row[column] = "" if value is None else str(value)
    return row


def _emails(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    emails = []
    for item in value:
        email = item.get("email") if isinstance(item, dict) else item
        if isinstance(email, str) and email:
            emails.append(email)
    return emails


def _now() -> datetime:
    return datetime.now(UTC)


class _Connection:
    """One logged-in websocket and everything that dies with it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.alive = True
        self.last_sent = time.monotonic()
        self.pending: dict[str, asyncio.Future[dict]] = {}  # SetPresence src -> its answer
        self.subscribed: dict[str, str] = {}  # guid -> h323 subscribed on this socket
        self.presence_state: dict[str, dict] = {}  # guid -> last PresenceState fields
        self.reported: set[str] = set()  # guids whose presence the PBX reported on this socket
        self.replicating = False
        self.replication_started = False
        self.replication_began = 0.0
        self.replicated_rows = 0
        self.batch: list[dict] = []


class PbxClient:
    """The PBX link. `run()` keeps it up until `stop()`; other methods may be called at any time."""

    def __init__(self, config: LinkConfig, events: PbxEvents) -> None:
        self.config = config
        self._events = events
        self._conn: _Connection | None = None
        self._wanted: dict[str, str] = {}
        self._wanted_changed = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._finished = asyncio.Event()
        self._stopping = False
        self._running = False
        self._session_task: asyncio.Task | None = None
        self._session_logged_in = False
        self._dispatcher: asyncio.Task | None = None
        self._slots = asyncio.Semaphore(config.window)
        self._event_queue: asyncio.Queue[tuple[str, tuple, dict]] = asyncio.Queue()
        # A per-client prefix keeps our SetPresence srcs apart from subscription srcs (guids) and
        # from those of an earlier process talking to the same PBX.
        self._src_prefix = f"sp{secrets.token_hex(3)}-"
        self._counter = itertools.count(1)
        self._since: datetime | None = None
        self._last_error = ""
        self._reconnects = 0
        self._logged_in_at: datetime | None = None
        self._handlers: dict[tuple[Any, Any], Callable[[_Connection, dict], Awaitable[None]]] = {
            ("PbxApi", "SetPresenceResult"): self._on_set_presence_result,
            ("PbxApi", "PresenceState"): self._on_presence_state,
            ("PbxApi", "PresenceUpdate"): self._on_presence_update,
            ("PbxApi", "SubscribePresenceResult"): self._on_subscription_result,
            ("PbxApi", "UnsubscribePresenceResult"): self._on_subscription_result,
            ("PbxTableUsers", "ReplicateStartResult"): self._on_replicate_start_result,
            ("PbxTableUsers", "ReplicateNextResult"): self._on_replicate_next_result,
            ("PbxTableUsers", "ReplicateAdd"): self._on_replicate_row,
            ("PbxTableUsers", "ReplicateUpdate"): self._on_replicate_row,
            ("PbxTableUsers", "ReplicateDel"): self._on_replicate_del,
        }

    # ----- public API -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def state(self) -> LinkState:
        conn = self._conn
        return LinkState(
            connected=conn is not None,
            since=self._since,
            last_error=self._last_error,
            reconnects=self._reconnects,
            subscriptions=len(conn.subscribed) if conn else 0,
            in_flight=len(conn.pending) if conn else 0,
            logged_in_at=self._logged_in_at,
        )

    def reported(self) -> frozenset[str]:
        """Guids whose presence the PBX has reported on the current connection (empty when down).

        Taken before `flush_events()`, every report counted here has been handed to `on_presence`
        once that returns: an owner that decides only for these users decides on what the PBX said
        on this socket, never on what an earlier one said.
        """
        conn = self._conn
        return frozenset(conn.reported) if conn is not None else frozenset()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """True once logged in; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected_event.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Keeps the link up until `stop()`: connect, log in, serve; after any loss back off and retry.

        The delay starts at `backoff_min` and doubles up to `backoff_max`, plus up to 25 % jitter so
        that many clients do not return at once; it starts over after a good login (reference §2.5,
        like the official JS library). A refused login backs off the same way: no retry storm.
        """
        if self._running:
            raise RuntimeError("PbxClient.run() is already running")
        self._running = True
        self._stopping = False
        self._stop_event.clear()
        self._finished.clear()
        self._dispatcher = asyncio.create_task(self._dispatch_events(), name="pbx-events")
        delay = self.config.backoff_min
        first = True
        try:
            while not self._stopping:
                if not first:
                    self._reconnects += 1
                first = False
                self._session_task = asyncio.create_task(self._session(), name="pbx-session")
                self._session_logged_in = False
                try:
                    await self._session_task
                except asyncio.CancelledError:
                    if not self._stopping:
                        raise
                except LoginFailed as exc:
                    self._record_error(exc.reason)
                    log.error("PBX link: %s", exc.reason)
                except PbxError as exc:
                    self._record_error(exc.reason)
                    log.warning("PBX link: %s", exc.reason)
                except Exception as exc:  # a bug here must not end the link for good
                    self._record_error(f"unexpected error: {exc!r}")
                    log.exception("PBX link failed unexpectedly")
                if self._stopping:
                    break
                if self._session_logged_in:
                    delay = self.config.backoff_min
                wait = delay + random.uniform(0, delay / 4)
                log.info("reconnecting to the PBX in %.1f s", wait)
                await self._sleep_unless_stopped(wait)
                delay = min(delay * 2, self.config.backoff_max)
        finally:
            self._session_task = None
            self._running = False
            await self._finish_events()
            self._finished.set()

    async def stop(self) -> None:
        """Closes the link and ends `run()`; pending requests fail with ConnectionLost."""
        self._stopping = True
        self._stop_event.set()
        task = self._session_task
        if task is not None and not task.done():
            task.cancel()
        current = asyncio.current_task()
        if self._running and current is not self._dispatcher and current is not task:
            await self._finished.wait()

    async def set_presence(self, *, guid: str, activity: str, note: str, contact: str | None = None) -> dict:
        """Sets one contact's presence of user `guid` and returns the SetPresenceResult (reference §3.1).

        At most `window` requests are in flight; more callers wait for a slot (a busy link is not a
        failure). `request_timeout` bounds the PBX's answer, from sending to SetPresenceResult. If the
        link is down, or goes down meanwhile, the call fails at once with ConnectionLost.
        """
        if self._conn is None:
            raise ConnectionLost(self._not_connected_reason())
        timeout = self.config.request_timeout
        async with self._slots:
            conn = self._conn
            if conn is None:
                raise ConnectionLost(self._not_connected_reason())
            src = f"{self._src_prefix}{next(self._counter)}"
            message = {
                "api": "PbxApi",
                "mt": "SetPresence",
                "guid": guid,
                "contact": self.config.contact if contact is None else contact,
                "activity": activity,
                "note": note,
                "src": src,
            }
            future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
            conn.pending[src] = future
            try:
                async with asyncio.timeout(timeout):
                    await self._send(conn, message)
                    result = await future
            except TimeoutError:
                raise RequestTimeout(f"the PBX did not answer SetPresence for {guid} within {timeout:g} s") from None
            finally:
                conn.pending.pop(src, None)
        error = result.get("error")
        if error not in (None, 0, "0", ""):
            text = str(result.get("errorText") or "")
            try:
                code = int(error)
            except (TypeError, ValueError):
                code = -1
            raise PbxRequestError(
                f"the PBX refused SetPresence for {guid}: {text or 'no reason given'} (error {error})",
                code=code,
                text=text,
            )
        return result

    def want_subscriptions(self, users: dict[str, str]) -> None:
        """Declares the full set of users whose presence to watch, `{guid: h323}`.

        New ones are subscribed, removed ones unsubscribed, and after every reconnect all are
        subscribed again. Returns at once; the work happens on the link's own task.
        """
        self._wanted = dict(users)
        self._wanted_changed.set()

    def wants(self, guid: str) -> bool:
        """Whether the user is among those last declared by `want_subscriptions`."""
        return guid in self._wanted

    # ----- one connection ---------------------------------------------------------------------

    async def _session(self) -> None:
        """One connection from open to loss; raises LoginFailed if it could not log in."""
        ws = await open_websocket(self.config)
        try:
            await login(ws, self.config)
        except BaseException:
            await ws.close()
            raise
        conn = _Connection(ws)
        self._conn = conn
        self._session_logged_in = True
        self._since = self._logged_in_at = _now()
        self._connected_event.set()
        log.info("logged in to the PBX at %s as App object %r", urlparse(self.config.url).netloc, self.config.app)
        self._emit("on_connected")
        # The PBX forgot our subscriptions with the old socket (reference §2.5): resubscribe all.
        self._wanted_changed.set()
        helpers = [
            asyncio.create_task(self._keepalive(conn), name="pbx-keepalive"),
            asyncio.create_task(self._sync_subscriptions(conn), name="pbx-subscriptions"),
        ]
        reason = "link stopped"
        try:
            if self.config.replicate_users:
                helpers.append(asyncio.create_task(self._watch_replication(conn), name="pbx-replication-watch"))
                await self._start_replication(conn)
            reason = await self._read(conn)
        except ConnectionLost as exc:
            reason = exc.reason
        finally:
            conn.alive = False
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._teardown(conn, "link stopped" if self._stopping else reason)
            await ws.close()

    async def _read(self, conn: _Connection) -> str:
        """Handles messages until the socket closes; returns why it closed."""
        while True:
            try:
                raw = await conn.ws.recv()
            except ConnectionClosed as exc:
                return describe_close(exc)
            message = parse_message(raw)
            if message is None:
                continue
            mt, api = message.get("mt"), message.get("api")
            if mt == "KeepAlive":
                continue
            handler = self._handlers.get((api, mt)) if isinstance(api, str) and isinstance(mt, str) else None
            if handler is None:
                # Unknown messages are normal: the PBX adds message types between versions.
                log.debug("ignored PBX message %r/%r", api, mt)
                continue
            try:
                await handler(conn, message)
            except PbxError:
                raise
            except Exception:  # one odd message must not cost the connection
                log.exception("could not handle PBX message %s/%s", api, mt)

    def _teardown(self, conn: _Connection, reason: str) -> None:
        if self._conn is conn:
            self._conn = None
        self._connected_event.clear()
        self._since = _now()
        self._record_error(reason)
        # Waiters of a dead connection fail at once: their answers can never come.
        for future in conn.pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))
        conn.pending.clear()
        if self._stopping:
            log.info("PBX link stopped")
        else:
            log.warning("PBX link down: %s", reason)
        self._emit("on_disconnected", reason)

    async def _send(self, conn: _Connection, message: dict) -> None:
        try:
            await conn.ws.send(compact_json(message))
        except ConnectionClosed as exc:
            raise ConnectionLost(describe_close(exc)) from None
        conn.last_sent = time.monotonic()

    async def _keepalive(self, conn: _Connection) -> None:
        """KeepAlive plus a websocket ping whenever nothing was sent for `keepalive_interval` (reference §2.5).

        The PBX's answer to KeepAlive is undocumented, so liveness is judged by the ping's pong: a
        PBX that does not answer within `request_timeout` is treated as gone and the socket closed.
        """
        interval = self.config.keepalive_interval
        try:
            while conn.alive:
                idle = time.monotonic() - conn.last_sent
                if idle < interval:
                    await asyncio.sleep(interval - idle)
                    continue
                await self._send(conn, {"mt": "KeepAlive"})
                pong = await conn.ws.ping()
                try:
                    async with asyncio.timeout(self.config.request_timeout):
                        await pong
                except TimeoutError:
                    log.warning("the PBX did not answer a ping within %g s; closing", self.config.request_timeout)
                    await conn.ws.close(code=1011, reason="keepalive timeout")
                    return
        except (PbxError, ConnectionClosed):
            return

    async def _sync_subscriptions(self, conn: _Connection) -> None:
        """Brings this socket's subscriptions to the wanted set, every time that set changes."""
        try:
            while conn.alive:
                await self._wanted_changed.wait()
                self._wanted_changed.clear()
                wanted = self._wanted
                for guid, h323 in list(conn.subscribed.items()):
                    if wanted.get(guid) != h323:
                        # Reference §3.2: subscriptions are keyed by src; sip is sent too, to be safe.
                        await self._send(conn, {"api": "PbxApi", "mt": "UnsubscribePresence", "sip": h323, "src": guid})
                        conn.subscribed.pop(guid, None)
                        conn.presence_state.pop(guid, None)
                        conn.reported.discard(guid)
                for guid, h323 in wanted.items():
                    if guid not in conn.subscribed and guid and h323:
                        # The guid is the src: unique per user, and PresenceUpdate carries only the src.
                        await self._send(conn, {"api": "PbxApi", "mt": "SubscribePresence", "sip": h323, "src": guid})
                        conn.subscribed[guid] = h323
                        if not conn.alive:
                            return
        except PbxError:
            return

    # ----- replication (reference §4.1) -------------------------------------------------------

    async def _start_replication(self, conn: _Connection) -> None:
        conn.replicating = True
        conn.replication_began = time.monotonic()
        conn.replicated_rows = 0
        conn.batch = []
        await self._send(
            conn,
            {
                "api": "PbxTableUsers",
                "mt": "ReplicateStart",
                "add": True,
                "del": True,
                "columns": {column: {} for column in USER_COLUMNS},
                # Plain users and executives; not trunks, gateways, waiting queues (reference §4.1).
                "pseudo": ["", "executive"],
                "src": REPLICATION_SRC,
            },
        )

    async def _watch_replication(self, conn: _Connection) -> None:
        """Says what to fix when the PBX ignores ReplicateStart (likely: TableUsers not granted)."""
        await asyncio.sleep(self.config.request_timeout)
        if conn.alive and not conn.replication_started:
            reason = (
                f"the PBX did not answer ReplicateStart within {self.config.request_timeout:g} s: is "
                f"'TableUsers' ticked under 'Grant access to APIs' of App object {self.config.app!r}?"
            )
            self._record_error(reason)
            log.error("%s", reason)

    async def _on_replicate_start_result(self, conn: _Connection, message: dict) -> None:
        conn.replication_started = True
        await self._send(conn, {"api": "PbxTableUsers", "mt": "ReplicateNext", "src": REPLICATION_SRC})

    async def _on_replicate_next_result(self, conn: _Connection, message: dict) -> None:
        if not conn.replicating:
            log.debug("ignored a ReplicateNextResult outside the initial load")
            return
        columns = message.get("columns")
        if isinstance(columns, dict):
            conn.batch.append(normalise_user_row(columns))
            conn.replicated_rows += 1
            if len(conn.batch) >= REPLICATION_BATCH:
                self._flush_rows(conn, initial_done=False)
            # One ReplicateNext, one row (reference §4.1, §6 "Throughput").
            await self._send(conn, {"api": "PbxTableUsers", "mt": "ReplicateNext", "src": REPLICATION_SRC})
            return
        # A ReplicateNextResult without columns ends the initial table (reference §4.1 [CODE]).
        conn.replicating = False
        self._flush_rows(conn, initial_done=True)
        log.info("replicated %d PBX users in %.1f s", conn.replicated_rows, time.monotonic() - conn.replication_began)

    async def _on_replicate_row(self, conn: _Connection, message: dict) -> None:
        columns = message.get("columns")
        if not isinstance(columns, dict) or not columns.get("guid") or not isinstance(columns["guid"], str):
            log.warning("ignored a PBX %s without a guid", message.get("mt"))
            return
        conn.batch.append(normalise_user_row(columns))
        if not conn.replicating:
            self._flush_rows(conn, initial_done=True)

    async def _on_replicate_del(self, conn: _Connection, message: dict) -> None:
        columns = message.get("columns")
        guid = columns.get("guid") if isinstance(columns, dict) else None
        if not guid:
            log.warning("ignored a PBX ReplicateDel without a guid")
            return
        if conn.batch:  # keep the order: rows that came before the delete are delivered first
            self._flush_rows(conn, initial_done=not conn.replicating)
        self._emit("on_user_deleted", str(guid))

    def _flush_rows(self, conn: _Connection, *, initial_done: bool) -> None:
        rows, conn.batch = conn.batch, []
        if rows or initial_done:
            self._emit("on_users", rows, initial_done=initial_done)

    # ----- presence (reference §3) ------------------------------------------------------------

    async def _on_set_presence_result(self, conn: _Connection, message: dict) -> None:
        src = message.get("src")
        future = conn.pending.get(src) if isinstance(src, str) else None
        if future is None and src is None and conn.pending:
            # The PBX echoes src (reference §2.1); should one ever come without, answers arrive in
            # request order, so it belongs to the oldest request (as the go library does, §6).
            future = next(iter(conn.pending.values()))
        if future is None:
            log.debug("ignored a SetPresenceResult for %r (timed out or not ours)", src)
        elif not future.done():
            future.set_result(message)

    async def _on_subscription_result(self, conn: _Connection, message: dict) -> None:
        if message.get("error"):
            log.warning(
                "PBX answered %s for %s with error %s %s",
                message.get("mt"),
                message.get("src"),
                message.get("error"),
                message.get("errorText", ""),
            )

    async def _on_presence_state(self, conn: _Connection, message: dict) -> None:
        guid = message.get("src")
        if isinstance(guid, str) and guid in conn.subscribed:
            fields = ("up", "sip", "num", "dn", "email")
            conn.presence_state[guid] = {key: message[key] for key in fields if key in message}

    async def _on_presence_update(self, conn: _Connection, message: dict) -> None:
        guid = message.get("src")
        presence = message.get("presence")
        if not isinstance(guid, str) or guid not in conn.subscribed:
            return  # not ours, or a late update for a subscription we just dropped
        if not isinstance(presence, list):
            log.warning("ignored a PresenceUpdate for %s without a presence list", guid)
            return
        items = [item for item in presence if isinstance(item, dict)]
        state = conn.presence_state.get(guid)
        self._emit("on_presence", guid, items, dict(state) if state is not None else None)
        conn.reported.add(guid)

    # ----- plumbing ---------------------------------------------------------------------------

    def _emit(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._event_queue.put_nowait((name, args, kwargs))

    async def flush_events(self, timeout: float = 5.0) -> None:
        """Return once every event received so far has been handed to the owner's callbacks.

        SetPresenceResult resolves its waiter at once, while PresenceUpdates travel through the
        event queue. An owner that records "we set X" after the result calls this first, so that
        an update the PBX sent *before* the result (showing the old presence) cannot be stored
        after — and over — the record of the new one.
        """
        if self._dispatcher is None or self._dispatcher.done():
            return
        reached: asyncio.Future = asyncio.get_running_loop().create_future()
        self._event_queue.put_nowait((_FLUSH, (reached,), {}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reached), timeout)

    async def _dispatch_events(self) -> None:
        while True:
            name, args, kwargs = await self._event_queue.get()
            if name == _FLUSH:
                if not args[0].done():
                    args[0].set_result(None)
                self._event_queue.task_done()
                continue
            try:
                await getattr(self._events, name)(*args, **kwargs)
            except Exception:
                log.exception("PBX event handler %s failed", name)
            finally:
                self._event_queue.task_done()

    async def _finish_events(self) -> None:
        """Delivers what is queued (e.g. the last on_disconnected), then ends the dispatcher."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            return
        if asyncio.current_task() is not dispatcher:
            try:
                async with asyncio.timeout(5):
                    await self._event_queue.join()
            except TimeoutError:
                log.warning("PBX event handlers still busy at stop; dropping %d events", self._event_queue.qsize())
        dispatcher.cancel()
        await asyncio.gather(dispatcher, return_exceptions=True)
        self._dispatcher = None
        while not self._event_queue.empty():
            name, args, _ = self._event_queue.get_nowait()
            if name == _FLUSH and not args[0].done():
                args[0].set_result(None)
            self._event_queue.task_done()

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stop_event.wait()
        except TimeoutError:
            pass

    def _record_error(self, reason: str) -> None:
        self._last_error = reason

    def _not_connected_reason(self) -> str:
        if self._last_error:
            return f"not connected to the PBX (last error: {self._last_error})"
        return "not connected to the PBX"
