"""The link worker's database side: read the queue for a planning round, store what came of it.

Runs on the worker's single database thread (plain synchronous Django). The policy is elsewhere —
`presence.planning` decides each user's round, `presence.engine` each decision — and trigger rows are
written by `triggers.queue`; this module reads, converts, and stores the users' memory and presence.

The database is the truth: a trigger stays `queued` until it has an outcome; one decided but never
answered (worker killed, link lost) is decided again later, knowing what was sent (its "after").
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from heartbeat_site.helpers.rowsql import Columns, update_rows
from licensing.models import Seat
from licensing.state import NOT_LICENSED, licence_refusal, seated_sql
from presence import engine, planning
from presence.engine_models import (
    MEMORY_FIELDS,
    apply_memory,
    config_from_models,
    memory_from_state,
    preset_spec,
    sent_from_decision,
)
from presence.link import fanout
from presence.models import MAX_HEARTBEAT_TIMEOUT_MINUTES, PbxUser, Preset, ServiceSettings, UserState
from triggers import queue
from triggers.models import Trigger

log = logging.getLogger("presence.decision")
link_log = logging.getLogger("presence.link")
BATCH = 2000
STATE_FIELDS = [*MEMORY_FIELDS, "last_heartbeat_at", "heartbeat_lost_fired"]
_config_cache: tuple[float, engine.EngineConfig] | None = None


def engine_config() -> engine.EngineConfig:
    """The admin's rules, re-read at most every 2 s (admin changes apply within that)."""
    global _config_cache
    now = time.monotonic()
    if _config_cache is None or now - _config_cache[0] > 2.0:
        _config_cache = (now, config_from_models())
    return _config_cache[1]


def current_presence(user: PbxUser) -> engine.Presence:
    """What the PBX reported for the user (`tel:`); a report without that entry means nothing set: available."""
    entry = user.contact(settings.PBX_CONTACT)
    return engine.Presence(activity=entry.get("activity") or "", note=entry.get("note") or "")


# ---- reading a round ------------------------------------------------------------------------------

_TRIGGER = Columns(Trigger, "t")
_USER = Columns(PbxUser, "u", ["id", "guid", "h323", "cn", "presence", "presence_at"])
_STATE = Columns(UserState, "s")


@functools.cache
def _queued_sql(vendor: str) -> str:
    """The fixed part of the round's query (per database vendor: quoting differs)."""
    quote = connection.ops.quote_name
    return (
        f"SELECT {_TRIGGER.select()}, {_USER.select()}, {_STATE.select()}, {seated_sql('u.' + quote('guid'))} "  # noqa: S608
        f"FROM {quote(Trigger._meta.db_table)} t "
        f"LEFT JOIN {quote(PbxUser._meta.db_table)} u ON u.{quote('id')} = t.{quote('pbx_user_id')} "
        f"LEFT JOIN {quote(UserState._meta.db_table)} s ON s.{quote('user_id')} = u.{quote('id')} "
        # 'queued' written into the SQL: a prepared statement's generic plan then still knows how few
        # rows of the whole log it selects.
        f"WHERE t.{quote('status')} = '{Trigger.Status.QUEUED}' AND t.{quote('decided_at')} IS NULL"
    )


@dataclass
class QueueRead:
    """One round's queued triggers: by user (oldest first), their rows, states and seats; device-only
    triggers (to hand to the users on that device); and orphans (their user is gone)."""

    by_user: dict[int, list[Trigger]] = field(default_factory=dict)
    rows: dict[int, Trigger] = field(default_factory=dict)
    users: dict[int, PbxUser] = field(default_factory=dict)
    states: dict[int, UserState | None] = field(default_factory=dict)
    seated: set[str] = field(default_factory=set)
    orphans: list[Trigger] = field(default_factory=list)
    for_devices: list[Trigger] = field(default_factory=list)
    full: bool = False


def read_queue(busy_user_ids: set[int]) -> QueueRead:
    """Undecided queued triggers (users in flight left out) with their users, states and seats: one query."""
    quote = connection.ops.quote_name
    sql = _queued_sql(connection.vendor)
    params: list = []
    if busy_user_ids:
        placeholders = ", ".join(["%s"] * len(busy_user_ids))
        sql += f" AND (t.{quote('pbx_user_id')} IS NULL OR t.{quote('pbx_user_id')} NOT IN ({placeholders}))"
        params += sorted(busy_user_ids)
    sql += f" ORDER BY t.{quote('pbx_user_id')}, t.{quote('at')}, t.{quote('id')} LIMIT %s"
    params.append(BATCH)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    user_at, state_at = len(_TRIGGER), len(_TRIGGER) + len(_USER)
    cache_user = Trigger._meta.get_field("pbx_user").set_cached_value
    read = QueueRead(full=len(fetched) == BATCH)
    for row in fetched:
        trigger = _TRIGGER.build(row[:user_at])
        read.rows[trigger.pk] = trigger
        if row[user_at] is None:
            (read.for_devices if trigger.for_device_only else read.orphans).append(trigger)
            continue
        user = read.users.get(row[user_at])
        if user is None:  # the user's first trigger in this round: their columns repeat on the others
            user = read.users[row[user_at]] = _USER.build(row[user_at:state_at])
            read.states[user.pk] = _STATE.build(row[state_at:-1]) if row[state_at] is not None else None
            if row[-1]:
                read.seated.add(user.guid)
        cache_user(trigger, user)
        read.by_user.setdefault(user.pk, []).append(trigger)
    return read


def _queued_trigger(trigger: Trigger, presets: dict[int, Preset]) -> planning.QueuedTrigger:
    decision = trigger.decision or {}
    requested = decision.get("requested_preset")
    preset = presets.get(requested) if trigger.source == Trigger.Source.BUTTON and requested else None
    return planning.QueuedTrigger(
        id=trigger.pk,
        event=trigger.event,
        at=trigger.at,
        received_at=trigger.received_at,
        source=trigger.source,
        device=trigger.device,
        sent=sent_from_decision(decision),
        preset=preset_spec(preset) if preset else None,
    )


# ---- one round --------------------------------------------------------------------------------------


@dataclass
class Round:
    """What one planning round produced for the worker."""

    sends: list[planning.Send] = field(default_factory=list)
    due_in: float | None = None  # seconds until a held-back lock is due
    more: bool = False  # the batch was full: plan again at once
    settled_presses: list[tuple[int, int, str, str]] = field(default_factory=list)  # (user, trigger, status, reason)
    waiting: list[str] = field(default_factory=list)  # guids held until the PBX reports their presence


def plan_round(busy_user_ids: set[int], known: Container[str], waited_out: Container[str] = ()) -> Round:
    """Read the queue, plan each user (presence.planning), store the outcomes: one transaction."""
    read = read_queue(busy_user_ids)
    if not read.rows:
        return Round()
    now = timezone.now()
    # Device-only triggers become per-user triggers now, planned in the next round (at once: `more`).
    dispatched = fanout.dispatch(read.for_devices, now) if read.for_devices else 0
    config = engine_config()
    debounce = ServiceSettings.current().debounce_seconds
    blocked = licence_refusal()
    wanted_presets = {
        (t.decision or {}).get("requested_preset") for t in read.rows.values() if t.source == Trigger.Source.BUTTON
    }
    presets = {p.pk: p for p in Preset.objects.filter(pk__in=[p for p in wanted_presets if p])}
    result = Round(more=read.full or dispatched > 0)
    outcomes: list[planning.Outcome] = [planning.Outcome(t.pk, "failed", "no PBX user") for t in read.orphans]
    memories: dict[int, UserState] = {}
    for user_id, triggers in read.by_user.items():
        user = read.users[user_id]
        state = read.states.get(user_id)
        refusal = blocked or (None if user.guid in read.seated else NOT_LICENSED)
        known_now = user.guid in known
        user_round = planning.plan_user(
            planning.UserQueue(
                user_id=user_id,
                guid=user.guid,
                h323=user.h323,
                triggers=tuple(_queued_trigger(t, presets) for t in triggers),
                memory=memory_from_state(state),
                current=current_presence(user) if known_now else None,
                known=known_now,
                waited_out=user.guid in waited_out,
                refusal=(refusal.code, refusal.detail) if refusal else None,
                last_heartbeat_at=state.last_heartbeat_at if state else None,
            ),
            config,
            debounce,
            now,
        )
        outcomes += user_round.outcomes
        if user_round.send is not None:
            result.sends.append(user_round.send)
        if user_round.waiting:
            result.waiting.append(user.guid)
        if user_round.due_in is not None:
            result.due_in = user_round.due_in if result.due_in is None else min(result.due_in, user_round.due_in)
        if user_round.memory is not None or user_round.heartbeat_at is not None:
            state = state or UserState(user_id=user_id)
            if user_round.memory is not None:
                apply_memory(state, user_round.memory)
            if user_round.heartbeat_at is not None:
                state.last_heartbeat_at, state.heartbeat_lost_fired = user_round.heartbeat_at, False
            memories[user_id] = state
    with transaction.atomic():
        queue.record_round(read.rows, outcomes, result.sends, now)
        update_rows(UserState, STATE_FIELDS, [s for s in memories.values() if not s._state.adding])
        UserState.objects.bulk_create([s for s in memories.values() if s._state.adding])
    # A user who pressed a button waits for an answer, also when the answer is "nothing to do".
    result.settled_presses = [
        (presser, o.trigger_id, o.status, o.reason)
        for o in outcomes
        if read.rows[o.trigger_id].source == Trigger.Source.BUTTON
        and (presser := read.rows[o.trigger_id].pbx_user_id) is not None
    ]
    return result


# ---- answers and reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """The PBX answered SetPresence for this send."""

    send: planning.Send
    at: dt.datetime


@dataclass(frozen=True)
class Reported:
    """A PresenceUpdate: the PBX's view of a user's presence."""

    guid: str
    presence: list[dict]
    at: dt.datetime


_REPORTED_USER = Columns(PbxUser, "u", ["id", "guid", "presence", "presence_at"])


def _users_with_states(guids: set[str], ids: set[int]) -> tuple[dict[int, PbxUser], dict[int, UserState]]:
    """The users named by guid or id, and the states of those named by id: one query (see read_queue)."""
    if not guids and not ids:
        return {}, {}
    quote = connection.ops.quote_name
    where: list[str] = []
    params: list[Any] = []
    for column, values in (("guid", sorted(guids)), ("id", sorted(ids))):
        if values:
            where.append(f"u.{quote(column)} IN ({', '.join(['%s'] * len(values))})")
            params += values
    sql = (
        f"SELECT {_REPORTED_USER.select()}, {_STATE.select()} FROM {quote(PbxUser._meta.db_table)} u "  # noqa: S608
        f"LEFT JOIN {quote(UserState._meta.db_table)} s ON s.{quote('user_id')} = u.{quote('id')} "
        f"WHERE {' OR '.join(where)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    state_at = len(_REPORTED_USER)
    users: dict[int, PbxUser] = {}
    states: dict[int, UserState] = {}
    for row in fetched:
        user = users[row[0]] = _REPORTED_USER.build(row[:state_at])
        if user.pk in ids and row[state_at] is not None:
            states[user.pk] = _STATE.build(row[state_at:])
    return users, states


def write_answers(ops: list[Applied | Reported]) -> dict[int, list[dict]]:
    """Store outcomes and presence reports, in the order the PBX sent them; a few queries per batch.

    One transaction for the whole batch (one per trigger made the worker the bottleneck of a logon
    storm). Returns the users whose reported presence changed, for the user pages.
    """
    sends = [op for op in ops if isinstance(op, Applied)]
    guids = {op.guid.lower() for op in ops if isinstance(op, Reported)}
    by_id, states = _users_with_states(guids, {op.send.user_id for op in sends})
    by_guid = {u.guid: u for u in by_id.values()}
    new_states: dict[int, UserState] = {}
    changed: dict[int, PbxUser] = {}
    reported: dict[int, list[dict]] = {}
    for op in ops:  # in order: what the PBX said last wins
        if isinstance(op, Reported):
            user = by_guid.get(op.guid.lower())
            if user is not None:
                user.presence, user.presence_at = op.presence, op.at
                changed[user.pk] = user
                reported[user.pk] = op.presence
            continue
        send = op.send
        state = states.get(send.user_id) or new_states.get(send.user_id)
        if state is None:
            state = new_states[send.user_id] = UserState(user_id=send.user_id)
        apply_memory(state, send.memory)
        # Until the PBX's own PresenceUpdate arrives, the cache shows what the PBX just accepted.
        user = by_id.get(send.user_id)
        if user is not None:
            user.presence, user.presence_at = _with_contact(user.presence, send.target), op.at
            changed[user.pk] = user
    with transaction.atomic():
        queue.record_applied([(op.send.trigger_id, op.at) for op in sends])
        UserState.objects.bulk_create(new_states.values(), batch_size=500)
        update_rows(UserState, MEMORY_FIELDS, states.values())
        update_rows(PbxUser, ["presence", "presence_at"], changed.values())
    for op in sends:
        log.info(
            "trigger decided id=%s user=%s event=%s status=applied activity=%r note=%r",
            op.send.trigger_id,
            op.send.h323,
            op.send.event,
            op.send.target.activity,
            op.send.target.note,
        )
    return reported


def write_then_plan(
    ops: list[Applied | Reported], busy: set[int] | None, known: Container[str] = (), waited_out: Container[str] = ()
) -> tuple[dict, Round | None]:
    """write_answers, then (busy given) plan_round: one trip to the link's database thread per round.

    Users whose outcome was just written are no longer in flight. A failed planning is logged and
    returns None, the written batch stays written (the next round plans again).
    """
    reported = write_answers(ops) if ops else {}
    if busy is None:
        return reported, None
    answered = {op.send.user_id for op in ops if isinstance(op, Applied)}
    try:
        return reported, plan_round(busy - answered, known, waited_out)
    except Exception:
        link_log.exception("planning queued triggers failed; retrying at the next sweep")
        return reported, None


def _with_contact(presence: list[dict], target: engine.Presence) -> list[dict]:
    contact = settings.PBX_CONTACT
    others = [p for p in presence or [] if p.get("contact") != contact]
    return [{"contact": contact, "status": "open", **target.as_json()}, *others]


def record_failed(send: planning.Send, reason: str) -> None:
    queue.record_failed(send.trigger_id, reason)
    log.warning("trigger decided id=%s user=%s status=failed reason=%r", send.trigger_id, send.h323, reason)


def expire_heartbeats(now: dt.datetime | None = None) -> int:
    """Users whose devices all went quiet longer than the timeout get one `heartbeat-lost` trigger."""
    # Bounded here too: a value stored before the validator existed must not overflow every round.
    minutes = min(ServiceSettings.current().heartbeat_timeout_minutes, MAX_HEARTBEAT_TIMEOUT_MINUTES)
    if not minutes:
        return 0
    now = now or timezone.now()
    watched = UserState.objects.filter(
        last_heartbeat_at__lt=now - dt.timedelta(minutes=minutes), heartbeat_lost_fired=False
    ).select_related("user")
    silent = [s for s in watched if planning.heartbeat_lost(s.last_heartbeat_at, s.heartbeat_lost_fired, minutes, now)]
    with transaction.atomic():
        fired = queue.raise_heartbeat_lost([(s.user, s.last_heartbeat_at) for s in silent if s.last_heartbeat_at], now)
        UserState.objects.filter(pk__in=[s.pk for s in silent]).update(heartbeat_lost_fired=True)
    return fired


def licensed_subscriptions() -> dict[str, str]:
    """{guid: h323} of every active, licensed user: whom the link subscribes to."""
    licensed = PbxUser.objects.filter(active=True, guid__in=Seat.objects.values("user_guid")).exclude(h323="")
    return dict(licensed.values_list("guid", "h323"))
