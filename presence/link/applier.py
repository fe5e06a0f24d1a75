"""The database side of applying triggers: decide what to send, and record what came of it.

Runs on the link worker's single database thread (plain synchronous Django). The database is the
truth: a trigger stays `queued` until it has an outcome; one that was decided but whose
SetPresence never got an answer (worker killed, link lost) is decided again later — the engine then
sees the PBX already shows the target and skips it as `unchanged`, so nothing is applied twice. Its
target (written as `decision["after"]` before SetPresence goes out) is passed to the engine as
"unconfirmed", so the PBX showing it is not mistaken for a change made by hand.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass, field
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from heartbeat_site.rowsql import Columns, update_rows
from licensing.seats import refusals_for, seated_sql
from presence import engine
from presence.engine_models import (
    MEMORY_FIELDS,
    apply_memory,
    config_from_models,
    memory_from_state,
    presence_from_json,
    presence_to_json,
)
from presence.models import MAX_HEARTBEAT_TIMEOUT_MINUTES, PbxUser, Preset, ServiceSettings, UserState
from triggers.models import Trigger

log = logging.getLogger("presence.decision")
link_log = logging.getLogger("presence.link")
BATCH = 2000
STATE_FIELDS = [*MEMORY_FIELDS, "last_heartbeat_at", "heartbeat_lost_fired"]
_config_cache: tuple[float, engine.EngineConfig] | None = None


@dataclass
class Plan:
    """A decided trigger waiting for its SetPresence."""

    trigger_id: int
    user_id: int
    guid: str
    h323: str
    event: str
    source: str
    target: engine.Presence
    memory: engine.UserMemory
    received_at: dt.datetime


def engine_config() -> engine.EngineConfig:
    """The admin's rules, re-read at most every 2 s (admin changes apply within that)."""
    global _config_cache
    now = time.monotonic()
    if _config_cache is None or now - _config_cache[0] > 2.0:
        _config_cache = (now, config_from_models())
    return _config_cache[1]


def reset_claims() -> int:
    """On start: triggers a previous holder decided but never finished are decided again."""
    return Trigger.objects.filter(status=Trigger.Status.QUEUED, decided_at__isnull=False).update(decided_at=None)


def reset_stale_claims(in_flight: set[int], older_than: dt.timedelta) -> int:
    """Decided triggers whose outcome could not be written (e.g. the database blinked) go back to the queue."""
    cutoff = timezone.now() - older_than
    stale = Trigger.objects.filter(status=Trigger.Status.QUEUED, decided_at__lt=cutoff).exclude(pk__in=in_flight)
    return stale.update(decided_at=None)


def queue_depth() -> int:
    """Triggers waiting (for /metrics and the admin); 'queued' in the SQL, see _queued."""
    table, status = connection.ops.quote_name(Trigger._meta.db_table), connection.ops.quote_name("status")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {status} = '{Trigger.Status.QUEUED}'")  # noqa: S608
        return cursor.fetchone()[0]


def current_presence(user: PbxUser) -> engine.Presence | None:
    entry = user.contact(settings.PBX_CONTACT)
    if not entry:
        return None
    return engine.Presence(activity=entry.get("activity") or "", note=entry.get("note") or "")


def _button_preset(trigger: Trigger) -> engine.PresetSpec | None:
    preset_id = (trigger.decision or {}).get("requested_preset")
    preset = Preset.objects.filter(pk=preset_id).first() if preset_id else None
    return engine.PresetSpec(preset.name, preset.activity, preset.note) if preset else None


def _finish(trigger: Trigger, status: str, reason: str, now: dt.datetime, **decision) -> None:
    trigger.status = status
    trigger.reason = reason[:255]
    trigger.decided_at = now
    trigger.decision = {**(trigger.decision or {}), **decision}
    log.info(
        "trigger decided id=%s user=%s event=%s status=%s reason=%r",
        trigger.pk,
        trigger.pbx_user.h323 if trigger.pbx_user else trigger.user_value,
        trigger.event,
        status,
        reason,
    )


@dataclass
class Planned:
    """What one planning round produced."""

    plans: list[Plan]  # decided, SetPresence to send
    due_in: float | None = None  # seconds until a held-back lock is due
    more: bool = False  # the batch was full: plan again at once
    settled_presses: list[tuple[int, int, str, str]] = field(default_factory=list)  # (user, trigger, status, reason)


_TRIGGER = Columns(Trigger, "t")
_USER = Columns(PbxUser, "u", ["id", "guid", "h323", "cn", "presence", "presence_at"])
_STATE = Columns(UserState, "s")


@functools.cache
def _queued_sql(vendor: str) -> str:
    """The fixed part of _queued's query (per database vendor: quoting differs)."""
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


def _queued(busy_user_ids: set[int]) -> tuple[list[Trigger], dict[int, UserState | None], set[str]]:
    """Undecided queued triggers (users in flight left out), each with its user; the users' states;
    the guids of those with a seat. One query, its SQL written once: under a steady load a planning
    round holds a few triggers, and building this through the ORM (select_related, an EXISTS
    annotation) cost more CPU than running it (profile_paths, rounds of 5)."""
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
    triggers: list[Trigger] = []
    states: dict[int, UserState | None] = {}
    seated: set[str] = set()
    for row in fetched:
        trigger = _TRIGGER.build(row[:user_at])
        if row[user_at] is not None:
            user = _USER.build(row[user_at:state_at])
            cache_user(trigger, user)
            states[user.pk] = _STATE.build(row[state_at:-1]) if row[state_at] is not None else None
            if row[-1]:
                seated.add(user.guid)
        triggers.append(trigger)
    return triggers, states, seated


_REPORTED_USER = Columns(PbxUser, "u", ["id", "guid", "presence", "presence_at"])


def _users_with_states(guids: set[str], ids: set[int]) -> tuple[dict[int, PbxUser], dict[int, UserState]]:
    """The users named by guid or id, and the states of those named by id: one query (see _queued)."""
    if not guids and not ids:
        return {}, {}
    quote = connection.ops.quote_name
    where, params = [], []
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


def plan_work(busy_user_ids: set[int]) -> Planned:
    """Decide queued triggers (a batch, oldest users first)."""
    now = timezone.now()
    options = ServiceSettings.current()
    rows, states, seated = _queued(busy_user_ids)
    if not rows:
        return Planned([])
    touched_triggers: list[Trigger] = []
    touched_states: dict[int, UserState] = {}
    plans: list[Plan] = []
    next_due: float | None = None
    config = engine_config()
    debounce = options.debounce_seconds
    refusals = refusals_for(list({r.pbx_user.guid for r in rows if r.pbx_user_id}), seated=seated)

    for user_id, group in groupby(rows, key=lambda r: r.pbx_user_id):
        triggers = list(group)
        if user_id is None:
            for trigger in triggers:
                _finish(trigger, Trigger.Status.FAILED, "no PBX user", now)
                touched_triggers.append(trigger)
            continue
        user = triggers[0].pbx_user
        # Sent by an earlier round (its "after" is written before SetPresence goes out), never confirmed.
        unconfirmed = tuple(filter(None, (presence_from_json((t.decision or {}).get("after")) for t in triggers)))
        state = states.get(user_id) or UserState(user=user)
        states[user_id] = state

        # Heartbeats only say "this computer is alive": they move the heartbeat clock, nothing else.
        beats = [t for t in triggers if t.event == "heartbeat"]
        if beats:
            newest_beat = max(t.at for t in beats)
            if not state.last_heartbeat_at or newest_beat > state.last_heartbeat_at:
                state.last_heartbeat_at = newest_beat
                state.heartbeat_lost_fired = False
                touched_states[user_id] = state
            for trigger in beats:
                _finish(trigger, Trigger.Status.SKIPPED, "heartbeat recorded", now)
                touched_triggers.append(trigger)
        triggers = [t for t in triggers if t.event != "heartbeat"]

        # Debounce: a lock followed by an unlock within N s sends nothing at all.
        if debounce:
            kept: list[Trigger] = []
            for trigger in triggers:
                previous = kept[-1] if kept else None
                if (
                    trigger.event == "unlock"
                    and previous is not None
                    and previous.event == "lock"
                    and engine.is_debounced(previous.at, trigger.at, debounce)
                ):
                    kept.pop()
                    for paired in (previous, trigger):
                        _finish(paired, Trigger.Status.SKIPPED, f"debounced: lock and unlock within {debounce} s", now)
                        touched_triggers.append(paired)
                    continue
                kept.append(trigger)
            triggers = kept
        if not triggers:
            continue

        newest, older = triggers[-1], triggers[:-1]
        for trigger in older:
            _finish(trigger, Trigger.Status.SUPERSEDED, f"superseded by a newer trigger (#{newest.pk})", now)
            touched_triggers.append(trigger)
        # Hold a fresh lock back for the debounce window: an unlock may still cancel it.
        if debounce and newest.event == "lock":
            due = (newest.at + dt.timedelta(seconds=debounce) - now).total_seconds()
            if due > 0:
                next_due = due if next_due is None else min(next_due, due)
                continue

        refusal = refusals.get(user.guid)
        if refusal is not None:
            _finish(newest, Trigger.Status.SKIPPED, f"refused: {refusal.detail}", now, error=refusal.code)
            touched_triggers.append(newest)
            continue

        current = current_presence(user)
        memory = memory_from_state(state)
        preset = _button_preset(newest) if newest.source == Trigger.Source.BUTTON else None
        decision = engine.decide(
            engine.TriggerInput(
                event=newest.event, at=newest.at, device=newest.device, source=newest.source, preset=preset
            ),
            current,
            memory,
            config,
            now,
            unconfirmed,
        )
        details = {
            "rule": decision.rule,
            "preset": decision.preset,
            "before": presence_to_json(decision.before),
            "after": presence_to_json(decision.target),
        }
        if decision.outcome == "set" and decision.target is not None:
            newest.decided_at = now
            newest.decision = {**(newest.decision or {}), **details}
            touched_triggers.append(newest)
            plans.append(
                Plan(
                    trigger_id=newest.pk,
                    user_id=user_id,
                    guid=user.guid,
                    h323=user.h323,
                    event=newest.event,
                    source=newest.source,
                    target=decision.target,
                    memory=decision.memory,
                    received_at=newest.received_at,
                )
            )
        else:
            _finish(newest, Trigger.Status.SKIPPED, decision.reason, now, **details)
            touched_triggers.append(newest)
            apply_memory(state, decision.memory)
            touched_states[user_id] = state

    with transaction.atomic():
        update_rows(Trigger, ["status", "reason", "decided_at", "decision"], touched_triggers)
        update_rows(UserState, STATE_FIELDS, [s for s in touched_states.values() if not s._state.adding])
        UserState.objects.bulk_create([s for s in touched_states.values() if s._state.adding])
    # A user who pressed a button waits for an answer, also when the answer is "nothing to do".
    presses = [
        (t.pbx_user_id, t.pk, t.status, t.reason)
        for t in touched_triggers
        if t.source == Trigger.Source.BUTTON and t.status != Trigger.Status.QUEUED and t.pbx_user_id
    ]
    return Planned(plans, next_due, len(rows) == BATCH, presses)


@dataclass(frozen=True)
class Applied:
    """The PBX answered SetPresence for this plan."""

    plan: Plan
    at: dt.datetime


@dataclass(frozen=True)
class Reported:
    """A PresenceUpdate: the PBX's view of a user's presence."""

    guid: str
    presence: list[dict]
    at: dt.datetime


def write_batch(ops: list[Applied | Reported]) -> dict[int, list[dict]]:
    """Store outcomes and presence reports, in the order the PBX sent them; a few queries per batch.

    One transaction for the whole batch: one per trigger (and per PresenceUpdate) made the worker
    the bottleneck of a logon storm and of a reconnect with thousands of subscriptions. Returns the
    users whose reported presence changed, for the user pages.
    """
    plans = [op for op in ops if isinstance(op, Applied)]
    guids = {op.guid.lower() for op in ops if isinstance(op, Reported)}
    plan_users = {op.plan.user_id for op in plans}
    by_id, states = _users_with_states(guids, plan_users)
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
        plan = op.plan
        state = states.get(plan.user_id) or new_states.get(plan.user_id)
        if state is None:
            state = new_states[plan.user_id] = UserState(user_id=plan.user_id)
        apply_memory(state, plan.memory)
        # Until the PBX's own PresenceUpdate arrives, the cache shows what the PBX just accepted.
        user = by_id.get(plan.user_id)
        if user is not None:
            user.presence, user.presence_at = _with_contact(user.presence, plan.target), op.at
            changed[user.pk] = user
    with transaction.atomic():
        update_rows(
            Trigger,
            ["status", "applied_at", "reason"],
            [Trigger(pk=o.plan.trigger_id, status=Trigger.Status.APPLIED, applied_at=o.at, reason="") for o in plans],
        )
        UserState.objects.bulk_create(new_states.values(), batch_size=500)
        update_rows(UserState, MEMORY_FIELDS, states.values())
        update_rows(PbxUser, ["presence", "presence_at"], changed.values())
    for op in plans:
        log.info(
            "trigger decided id=%s user=%s event=%s status=applied activity=%r note=%r",
            op.plan.trigger_id,
            op.plan.h323,
            op.plan.event,
            op.plan.target.activity,
            op.plan.target.note,
        )
    return reported


def write_then_plan(ops: list[Applied | Reported], busy: set[int] | None) -> tuple[dict, Planned | None]:
    """write_batch, then (busy given) plan_work: one trip to the link's database thread per round.

    Users whose outcome was just written are no longer in flight. A failed planning is logged and
    returns None, the written batch stays written (the next round plans again).
    """
    reported = write_batch(ops) if ops else {}
    if busy is None:
        return reported, None
    answered = {op.plan.user_id for op in ops if isinstance(op, Applied)}
    try:
        return reported, plan_work(busy - answered)
    except Exception:
        link_log.exception("planning queued triggers failed; retrying at the next sweep")
        return reported, None


def _with_contact(presence: list[dict], target: engine.Presence) -> list[dict]:
    contact = settings.PBX_CONTACT
    others = [p for p in presence or [] if p.get("contact") != contact]
    return [{"contact": contact, "status": "open", "activity": target.activity, "note": target.note}, *others]


def record_failed(plan: Plan, reason: str) -> None:
    Trigger.objects.filter(pk=plan.trigger_id).update(status=Trigger.Status.FAILED, reason=reason[:255])
    log.warning("trigger decided id=%s user=%s status=failed reason=%r", plan.trigger_id, plan.h323, reason)


def release(plan: Plan) -> None:
    """The link went away before the PBX answered: back to the queue, decided again after reconnect."""
    Trigger.objects.filter(pk=plan.trigger_id, status=Trigger.Status.QUEUED).update(decided_at=None)


def expire_heartbeats(now: dt.datetime | None = None) -> int:
    """Users whose devices all went quiet longer than the timeout get one `heartbeat-lost` trigger."""
    # Bounded here too: a value stored before the validator existed must not overflow every round.
    minutes = min(ServiceSettings.current().heartbeat_timeout_minutes, MAX_HEARTBEAT_TIMEOUT_MINUTES)
    if not minutes:
        return 0
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=minutes)
    expired = list(
        UserState.objects.filter(last_heartbeat_at__lt=cutoff, heartbeat_lost_fired=False).select_related("user")
    )
    with transaction.atomic():
        for state in expired:
            Trigger.objects.create(
                source=Trigger.Source.SYSTEM,
                event="heartbeat-lost",
                at=now,
                received_at=now,
                user_value=state.user.h323,
                pbx_user=state.user,
                reason="",
                device=f"silent since {timezone.localtime(state.last_heartbeat_at):%Y-%m-%d %H:%M:%S}",
            )
        UserState.objects.filter(pk__in=[s.pk for s in expired]).update(heartbeat_lost_fired=True)
    return len(expired)


def licensed_subscriptions() -> dict[str, str]:
    """{guid: h323} of every active, licensed user: whom the link subscribes to."""
    from licensing.models import Seat

    licensed = PbxUser.objects.filter(active=True, guid__in=Seat.objects.values("user_guid")).exclude(h323="")
    return dict(licensed.values_list("guid", "h323"))
