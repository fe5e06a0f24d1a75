"""The PBX link worker: holds the PbxClient, decides queued triggers, keeps directory and presence fresh.

Everything here runs on one asyncio loop; all database work goes through one dedicated thread
(`db`), in order, so that a PresenceUpdate and the outcome of our own SetPresence are stored in the
order the PBX sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from heartbeat_site.helpers import metrics
from licensing.state import forget as forget_licence_state
from licensing.state import revision
from presence import planning
from presence.link import directory, lease, store, wakeups
from presence.link.pagefeed import outcome_message, presence_group, presence_message
from presence.models import LinkStatus
from presence.pbx import (
    ConnectionLost,
    LinkConfig,
    PbxClient,
    PbxRequestError,
    RequestTimeout,
    make_ssl_context,
)
from triggers import queue

log = logging.getLogger("presence.link")
SWEEP_SECONDS = 1.0  # the database is swept this often even without a channel message
# Seconds between two planning rounds, at most: wake-ups arriving meanwhile join the next round. The
# pause grows with the last round's size, so a light load is planned at once and a heavy one in
# batches (each round costs the same few queries however many triggers it decides).
PLAN_PAUSE_PER_TRIGGER = 0.001
PLAN_INTERVAL = 0.005
STATUS_SECONDS = 2.0
RECONCILE_SECONDS = 15.0
# How long a trigger waits for the PBX to report its user's presence before it is decided without it.
PRESENCE_WAIT_SECONDS = 3.0
# How often the licence revision is read: a change made in another process reaches the link within this.
LICENCE_POLL_SECONDS = 0.5


def link_config(url: str | None = None, password: str | None = None) -> LinkConfig:
    """The PbxClient configuration from settings (or an explicit URL/password: the embedded simulator)."""
    url = url or settings.PBX_URL
    return LinkConfig(
        url=url,
        app=settings.PBX_APP,
        password=settings.PBX_PASSWORD if password is None else password,
        ssl=make_ssl_context(url, settings.PBX_CA_FILE, settings.PBX_TLS_VERIFY),
        contact=settings.PBX_CONTACT,
        request_timeout=settings.PBX_REQUEST_TIMEOUT,
        connect_timeout=settings.PBX_CONNECT_TIMEOUT,
        window=settings.PBX_WINDOW,
    )


class LinkWorker:
    """One per process that holds the lease; registered with `wakeups` while it runs."""

    def __init__(self, config: LinkConfig, *, holder: str):
        self.config = config
        self.holder = holder
        self.client = PbxClient(config, self)
        self.db_thread = ThreadPoolExecutor(1, thread_name_prefix="pbx-link-db")
        self._wake = asyncio.Event()
        self._licence_poke = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: dict[int, int] = {}  # user id -> trigger id of its send (one per user at a time)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._writes: list[store.Applied | store.Reported] = []
        self._write_wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._applying: set[asyncio.Task] = set()
        self._seen_guids: set[str] = set()
        self._initial_sync_started: float | None = None
        self._since: dt.datetime | None = None
        self._last_error = ""
        self.lease_lost = False
        self._waiting: dict[str, float] = {}  # guid -> when its first trigger started waiting (monotonic)
        self._licence_revision: int | None = None
        self._tidied_at = 0.0
        self._planned_at = 0.0
        self._plan_pause = PLAN_INTERVAL

    # ---- plumbing -------------------------------------------------------------------------------
    async def db(self, fn, *args, **kwargs):
        """Run a synchronous ORM function on the link's database thread.

        The connection is tidied (closed when broken or too old, health-checked on next use) after an
        error and at most once a second otherwise: doing it around every call cost a health-check
        query per call, and under load the worker makes hundreds of calls a second.
        """

        def call():
            if time.monotonic() - self._tidied_at > 1.0:
                close_old_connections()
                self._tidied_at = time.monotonic()
            try:
                return fn(*args, **kwargs)
            except Exception:
                close_old_connections()
                raise

        return await asyncio.get_running_loop().run_in_executor(self.db_thread, functools.partial(call))

    def wake(self) -> None:
        self._wake.set()

    def subscriptions_changed(self) -> None:
        task = asyncio.ensure_future(self._resubscribe())
        self._applying.add(task)  # keep a reference; shutdown waits for it like for applies
        task.add_done_callback(self._applying.discard)

    async def _resubscribe(self) -> None:
        self.client.want_subscriptions(await self.db(store.licensed_subscriptions))

    async def _group_send(self, user_id: int, message: dict) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            await layer.group_send(presence_group(user_id), message)
        except Exception as exc:  # a full or unreachable layer must not stop the link
            log.warning("could not notify the user page: %s", exc)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until stop() or until the lease is lost."""
        self.loop = asyncio.get_running_loop()
        wakeups.register(self)
        # A holder that died left its state behind ("connected"): this holder's truth starts here.
        self._since = timezone.now()
        await self.db(self._write_status)
        reset = await self.db(queue.reset_claims)
        if reset:
            log.info("%s trigger(s) decided by a previous worker but never answered: deciding them again", reset)
        tasks = [
            asyncio.ensure_future(self.client.run()),
            asyncio.ensure_future(self._drain_loop()),
            asyncio.ensure_future(self._status_loop()),
            asyncio.ensure_future(self._heartbeat_loop()),
            asyncio.ensure_future(self._licence_loop()),
        ]
        if connection.vendor == "postgresql":
            tasks.append(asyncio.ensure_future(wakeups.listen_for_wakeups(self.wake, wakeups.listen_params())))
        writer = asyncio.ensure_future(self._write_loop())
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stop], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop and task.exception():
                    log.error("link task failed: %r", task.exception(), exc_info=task.exception())
        finally:
            await self._shutdown([*tasks, stop], writer)

    async def stop(self) -> None:
        self._stopping.set()

    async def _shutdown(self, tasks: list[asyncio.Future], writer: asyncio.Future) -> None:
        # Finish what is in flight (bounded), write what was answered, drop the link, give the lease back.
        if self._applying:
            await asyncio.wait(list(self._applying), timeout=5)
        self._stopping.set()
        self._write_wake.set()
        await asyncio.wait([writer], timeout=5)
        writer.cancel()
        await self.client.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.db(self._write_status, final=True)
        if not self.lease_lost:
            await self.db(lease.release, self.holder)
        self.db_thread.shutdown(wait=True)
        if wakeups.running() is self:
            wakeups.register(None)

    # ---- applying triggers ----------------------------------------------------------------------
    async def _drain_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=SWEEP_SECONDS)
            wait = self._planned_at + self._plan_pause - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._wake.clear()
            if not self.client.connected:
                continue  # triggers stay queued; applied after reconnect
            # Decide on what the PBX has told us so far on this connection: every report received is
            # stored first, in the same call to the database thread as the planning. A user it has not
            # reported yet waits (known before decided).
            known = self.client.reported()
            await self.client.flush_events()
            self._planned_at = time.monotonic()
            waited_out = self._waited_out()
            written, planned = await self._write_pending_then_plan(set(self._in_flight), known, waited_out)
            if not written or planned is None:
                continue
            for guid in waited_out:
                self._waiting.pop(guid, None)
            self._hold(planned.waiting)
            self._plan_pause = min(PLAN_INTERVAL, PLAN_PAUSE_PER_TRIGGER * max(1, len(planned.sends)))
            for user_id, trigger_id, status, reason in planned.settled_presses:
                await self._group_send(user_id, outcome_message(trigger_id, status, reason))
            for send in planned.sends:
                self._in_flight[send.user_id] = send.trigger_id
                task = asyncio.ensure_future(self._send(send))
                self._applying.add(task)
                task.add_done_callback(self._applying.discard)
            if planned.due_in is not None:
                asyncio.get_running_loop().call_later(planned.due_in + 0.01, self.wake)
            if planned.more:
                self.wake()

    async def _send(self, send: planning.Send) -> None:
        recorded_later = False
        try:
            await self.client.set_presence(guid=send.guid, activity=send.target.activity, note=send.target.note)
            # PresenceUpdates the PBX sent before this answer are queued for writing first.
            await self.client.flush_events()
            self._queue_write(store.Applied(send, timezone.now()))
            recorded_later = True  # the user stays busy until the outcome is written
        except ConnectionLost:
            await self.db(queue.release, send.trigger_id)
        except PbxRequestError as exc:
            await self._failed(send, f"PBX error {exc.code}: {exc.text}")
        except RequestTimeout:
            await self._failed(send, f"the PBX did not answer SetPresence within {self.config.request_timeout:g} s")
        except Exception:
            log.exception("applying trigger %s failed; it goes back to the queue", send.trigger_id)
            with contextlib.suppress(Exception):  # if even that fails, reset_stale_claims does it later
                await self.db(queue.release, send.trigger_id)
        finally:
            if not recorded_later:
                self._release(send)

    async def _failed(self, send: planning.Send, reason: str) -> None:
        await self.db(store.record_failed, send, reason)
        if send.source == "button":
            await self._group_send(send.user_id, outcome_message(send.trigger_id, "failed", reason))

    def _release(self, send: planning.Send) -> None:
        if self._in_flight.get(send.user_id) == send.trigger_id:
            del self._in_flight[send.user_id]
        self.wake()  # the user may have more queued

    def _queue_write(self, op: store.Applied | store.Reported) -> None:
        self._writes.append(op)
        self._write_wake.set()

    async def _write_loop(self) -> None:
        """Writes outcomes and presence reports in order, in batches (every few ms under load)."""
        while not (self._stopping.is_set() and not self._writes):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._write_wake.wait(), timeout=0.5)
            self._write_wake.clear()
            if not self._writes:
                continue
            await asyncio.sleep(0.002)  # let what arrives together share one transaction
            if not await self._write_pending():
                await asyncio.sleep(1)
                self._write_wake.set()

    async def _write_pending(self) -> bool:
        """Write what is queued now, in order; False when the database refused (kept for a retry)."""
        written, _ = await self._write_pending_then_plan(None)
        return written

    async def _write_pending_then_plan(
        self, busy: set[int] | None, known: frozenset[str] = frozenset(), waited_out: frozenset[str] = frozenset()
    ) -> tuple[bool, store.Round | None]:
        """Write what is queued now and, given the users in flight, plan: one database-thread call.

        Returns (written, planned); planned is None when not asked for or when planning failed.
        """
        async with self._write_lock:
            batch, self._writes = self._writes, []
            if not batch and busy is None:
                return True, None
            try:
                reported, planned = await self.db(store.write_then_plan, batch, busy, known, waited_out)
            except Exception:
                log.exception("writing %s outcome(s)/presence report(s) failed; retrying", len(batch))
                self._writes = batch + self._writes
                return False, None
        await self._after_write(batch, reported)
        return True, planned

    async def _after_write(self, batch: list, reported: dict[int, list[dict]]) -> None:
        for op in batch:
            if isinstance(op, store.Applied):
                metrics.OUTCOMES.labels(op.send.event, "applied").inc()
                if op.send.received_at is not None:
                    metrics.APPLY_SECONDS.observe(max(0.0, (op.at - op.send.received_at).total_seconds()))
                self._release(op.send)
                if op.send.source == "button":
                    await self._group_send(op.send.user_id, outcome_message(op.send.trigger_id, "applied", ""))
        for user_id, presence in reported.items():
            await self._group_send(user_id, presence_message(presence, settings.PBX_CONTACT))

    # ---- known before decided ---------------------------------------------------------------------
    def _waited_out(self) -> frozenset[str]:
        """Users whose trigger waited PRESENCE_WAIT_SECONDS for a report in vain: decide without it."""
        now = time.monotonic()
        return frozenset(g for g, since in self._waiting.items() if now - since >= PRESENCE_WAIT_SECONDS)

    def _hold(self, guids: list[str]) -> None:
        """Triggers of these users wait for their presence: make sure it is asked for, and wake at the deadline."""
        if not guids:
            return
        now = time.monotonic()
        missing = [g for g in guids if not self.client.wants(g)]
        for guid in guids:
            if guid not in self._waiting:
                self._waiting[guid] = now
                log.info("trigger for %s is waiting for the PBX to report the presence", guid)
        if missing:
            # Licensed since the subscriptions were last read (the licence watch has not run yet).
            self.subscriptions_changed()
        deadline = min(self._waiting[g] for g in guids) + PRESENCE_WAIT_SECONDS
        asyncio.get_running_loop().call_later(max(0.0, deadline - now) + 0.01, self.wake)

    async def _licence_loop(self) -> None:
        """Notice licence and seat changes made by any process (licensing.state.announce) within a second."""
        while not self._stopping.is_set():
            try:
                found = await self.db(revision)
            except Exception as exc:
                log.warning("could not read the licence revision: %s", exc)
                found = None
            if found is not None and found != self._licence_revision:
                if self._licence_revision is not None:
                    log.info("licence changed (revision %s): updating subscriptions", found)
                    await self.db(forget_licence_state)
                    if self.client.connected:
                        await self._resubscribe()
                    self.wake()  # refusals may have turned into decisions, or the other way round
                self._licence_revision = found
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._licence_poke.wait(), timeout=LICENCE_POLL_SECONDS)
            self._licence_poke.clear()

    def licence_changed(self) -> None:
        """This process committed a licence change: look at once instead of at the next poll."""
        self._licence_poke.set()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(10)
            try:
                fired = await self.db(store.expire_heartbeats)
                in_flight = set(self._in_flight.values())
                grace = dt.timedelta(seconds=self.config.request_timeout * 3)
                fired += await self.db(queue.reset_stale_claims, in_flight, grace)
            except Exception:
                log.exception("heartbeat expiry / claim check failed")
                continue
            if fired:
                self.wake()

    # ---- status and lease -----------------------------------------------------------------------
    async def _status_loop(self) -> None:
        last_renew = last_reconcile = time.monotonic()
        while not self._stopping.is_set():
            await asyncio.sleep(STATUS_SECONDS)
            if self.client.connected and time.monotonic() - last_reconcile > RECONCILE_SECONDS:
                # Channel messages may be lost: the licensed set is re-read now and then regardless.
                last_reconcile = time.monotonic()
                self.subscriptions_changed()
            try:
                held = await self.db(lease.renew, self.holder)
                last_renew = time.monotonic()
            except Exception as exc:
                log.warning("could not renew the link lease: %s", exc)
                held = time.monotonic() - last_renew < lease.LEASE_SECONDS - STATUS_SECONDS
            if not held:
                # Someone else holds the link now (or we could not prove we do): stop at once.
                log.error("lost the PBX link lease; stopping this worker's link")
                self.lease_lost = True
                self._stopping.set()
                return
            try:
                await self.db(self._write_status)
            except Exception as exc:
                log.warning("could not write the link status: %s", exc)

    def _write_status(self, final: bool = False) -> None:
        state = self.client.state()
        LinkStatus.objects.filter(pk=1).update(
            connected=state.connected and not final,
            since=self._since,
            last_error=(state.last_error or self._last_error)[:500],
            reconnects=state.reconnects,
            subscriptions=state.subscriptions,
            reported=len(self.client.reported()),
            in_flight=state.in_flight,
            updated_at=timezone.now(),
        )
        metrics.LINK_UP.set(1 if state.connected else 0)
        metrics.LINK_RECONNECTS.set(state.reconnects)
        metrics.LINK_SUBSCRIPTIONS.set(state.subscriptions)
        metrics.LINK_IN_FLIGHT.set(state.in_flight)

    # ---- PbxEvents callbacks --------------------------------------------------------------------
    async def on_connected(self) -> None:
        self._since = timezone.now()
        self._last_error = ""
        self._seen_guids = set()
        self._initial_sync_started = time.monotonic()
        # The PBX forgot our subscriptions with the old socket: nobody's presence is known again until
        # it reports it on this one (PbxClient.reported), and the triggers of those users wait for that.
        self._waiting = {}
        log.info("PBX link up (%s)", self.config.url)
        await self._resubscribe()
        await self.db(self._write_status)
        self.wake()

    async def on_disconnected(self, reason: str) -> None:
        self._since = timezone.now()
        self._last_error = reason
        log.warning("PBX link down: %s", reason)
        await self.db(self._write_status)

    async def on_users(self, rows: list[dict], *, initial_done: bool) -> None:
        if rows:
            self._seen_guids.update(str(r.get("guid", "")).lower() for r in rows)
            await self.db(directory.upsert_users, rows)
        if initial_done and self._initial_sync_started is not None:
            removed = await self.db(directory.finish_initial_load, self._seen_guids)
            took = time.monotonic() - self._initial_sync_started
            log.info("directory synced: %s users in %.1f s, %s marked removed", len(self._seen_guids), took, removed)
            self._initial_sync_started = None
            self._seen_guids = set()
            await self._resubscribe()
        elif initial_done and rows:
            await self._resubscribe()  # a live add/update may concern a licensed user

    async def on_user_deleted(self, guid: str) -> None:
        await self.db(directory.mark_removed, guid)
        await self._resubscribe()

    async def on_presence(self, guid: str, presence: list[dict], state: dict | None) -> None:
        self._queue_write(store.Reported(guid, presence, timezone.now()))
        if self._waiting.pop(guid, None) is not None:
            self.wake()  # a trigger was waiting for exactly this
