"""A trigger's life, in one place: the only code that creates Trigger rows or changes their status.

    API accept ──┐
    button press ├─> queued ─> claimed (decided, sent to the PBX) ─> applied | failed
    heartbeat-lost ┘    │                  └─> queued again (the link went away first)
                        └─> superseded | skipped (decided: nothing to send)
    device only (no user) ─> queued ─> dispatched: one queued trigger per user on that device
                                  └─> skipped: nobody on this device
    refused: an audit row, never queued (unknown user, not licensed, …)

The trigger API, the user page's buttons, heartbeat expiry and the link worker all go through here.
A queued row is committed before anybody hears of it; the link worker is woken by the database on
PostgreSQL (a trigger on the table, created by migration 0002) and by the `queued` signal, sent on
commit, elsewhere (presence.link.wakeups listens). The database stays the truth: the worker also
sweeps the queue every second.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from heartbeat_site.helpers.rowsql import update_rows
from licensing.state import licence_refusal, refusal_for
from presence.identity import AmbiguousUser, UnknownUser, resolve_user
from triggers.models import ApiKey, Trigger, computer_of
from triggers.throttles import enforce_rate

log = logging.getLogger("triggers.queue")
decision_log = logging.getLogger("presence.decision")

# Sent on commit for every queued trigger (kwargs: trigger_id). The link side listens once.
queued = Signal()

QUEUED = Trigger.Status.QUEUED
WORKER_FIELDS = ["status", "reason", "decided_at", "applied_at", "decision"]


class Refused(Exception):
    """Why a trigger — or a request that would make one — is refused: HTTP status, short code, a sentence.

    `fields` are the audit row's (who sent what) when the refusal is worth a row in the trigger log.
    The trigger API, the user page, its socket and the myApps apps all refuse with this one type.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        fields: dict[str, Any] | None = None,
        *,
        retry_after: float | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail, self.fields = status, code, detail, fields
        self.retry_after = retry_after  # seconds, for a 429

    def as_json(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


class Replay(Exception):
    """The idempotency key was seen before: answer what was answered then."""

    def __init__(self, trigger: Trigger):
        self.trigger = trigger


# ---- created ------------------------------------------------------------------------------------


def find_replay(api_key: ApiKey, client_id: str) -> Trigger | None:
    if not client_id:
        return None
    return Trigger.objects.select_related("pbx_user").filter(api_key=api_key, client_id=client_id).first()


def accept(
    *,
    api_key: ApiKey,
    user: str,
    event: str,
    at: dt.datetime | None,
    device: str,
    client_id: str,
    source_ip: str | None,
) -> Trigger:
    """Resolve the user, check the licence, write the queued row (committed); Refused or Replay otherwise.

    Without a user (a computer-level event that names only its device) nobody is resolved now: the
    link worker hands it to the users on that device (`fan_out`), each checked like any trigger.
    """
    now = timezone.now()
    fields = {
        "api_key": api_key,
        "key_name": api_key.name,
        "user_value": user,
        "event": event,
        "at": at or now,
        "received_at": now,
        "device": device,
        "computer": computer_of(device),
        "client_id": client_id,
        "source_ip": source_ip,
    }
    if user:
        try:
            match = resolve_user(user)
        except UnknownUser as exc:
            raise Refused(404, exc.code, str(exc), fields) from exc
        except AmbiguousUser as exc:
            raise Refused(409, exc.code, str(exc), fields) from exc
        fields["pbx_user"] = match.user
        enforce_rate(api_key.pk, f"user-{match.user.pk}")  # per PBX user, however spelled; a 429 writes no row
        refusal = refusal_for(match.user.guid, seated=match.licensed)
    else:
        enforce_rate(api_key.pk, f"computer-{fields['computer']}")  # a script looping on one computer
        refusal = licence_refusal()
    if refusal is not None:
        raise Refused(403, refusal.code, refusal.detail, fields)
    trigger = Trigger(status=QUEUED, http_status=202, **fields)
    try:
        # Autocommit: the INSERT is its own transaction, committed before the 202 goes out.
        trigger.save(force_insert=True)
    except IntegrityError:
        first = find_replay(api_key, client_id)
        if first is None:
            raise
        raise Replay(first) from None
    _announce(trigger.pk)
    # Debug only: the worker logs one line per decision; a line per accept doubled the log for nothing.
    log.debug(
        "trigger accepted id=%s key=%s user=%s event=%s device=%s",
        trigger.pk,
        api_key.name,
        trigger.pbx_user.h323 if trigger.pbx_user else "-",
        event,
        device or "-",
    )
    return trigger


def refuse(refusal: Refused) -> Trigger | None:
    """The audit row of a refused request (`refusal.fields`). Idempotent: a repeated client id adds none."""
    if refusal.fields is None:
        return None
    fields = dict(refusal.fields)
    fields.setdefault("at", fields.get("received_at") or timezone.now())
    try:
        with transaction.atomic():
            row = Trigger.objects.create(
                status=Trigger.Status.REFUSED,
                http_status=refusal.status,
                reason=refusal.detail[:255],
                decision={**fields.pop("decision", {}), "error": refusal.code},
                **fields,
            )
    except IntegrityError:
        return None
    log.info(
        "trigger refused id=%s key=%s user=%r status=%s error=%s",
        row.pk,
        fields.get("key_name", ""),
        fields.get("user_value", ""),
        refusal.status,
        refusal.code,
    )
    return row


def press(pbx_user, preset_id: int, *, username: str, source_ip: str | None, key_name: str) -> Trigger:
    """A user's button press for their own presence: queued (committed), or refused with an audit row."""
    now = timezone.now()
    fields = {
        "source": Trigger.Source.BUTTON,
        "key_name": key_name,
        "user_value": username,
        "pbx_user": pbx_user,
        "event": "button",
        "at": now,
        "received_at": now,
        "source_ip": source_ip,
        "decision": {"requested_preset": preset_id},
    }
    refusal = refusal_for(pbx_user.guid)
    if refusal is not None:
        refused = Refused(403, refusal.code, refusal.detail, fields)
        refuse(refused)
        raise refused
    trigger = Trigger.objects.create(status=QUEUED, http_status=202, **fields)
    _announce(trigger.pk)
    return trigger


def raise_heartbeat_lost(silent: Iterable[tuple[Any, dt.datetime]], now: dt.datetime) -> int:
    """One `heartbeat-lost` trigger for each (PBX user, last heartbeat) whose devices went quiet."""
    rows = [
        Trigger(
            source=Trigger.Source.SYSTEM,
            event="heartbeat-lost",
            at=now,
            received_at=now,
            user_value=user.h323,
            pbx_user=user,
            device=f"silent since {timezone.localtime(last_beat):%Y-%m-%d %H:%M:%S}",
        )
        for user, last_beat in silent
    ]
    Trigger.objects.bulk_create(rows)
    for row in rows:
        _announce(row.pk)
    return len(rows)


def fan_out(device_trigger: Trigger, users: Sequence[Any], now: dt.datetime) -> list[Trigger]:
    """A device-only trigger handed to the users on its device: one queued trigger each, linked to it.

    The device trigger ends `dispatched` (or `skipped: nobody on this device`) in the same transaction
    that creates them, and only if it was still queued: asked twice, it hands out once. Each new
    trigger then goes through planning like any other (rules, licence, ordering by its `at`).
    """
    names = [user.h323 for user in users]
    if names:
        status, reason = Trigger.Status.DISPATCHED, f"for {len(names)} user(s) on this device: {', '.join(names)}"
    else:
        status, reason = Trigger.Status.SKIPPED, "nobody on this device"
    children = [
        Trigger(
            status=QUEUED,
            http_status=202,
            source=device_trigger.source,
            api_key_id=device_trigger.api_key_id,
            key_name=device_trigger.key_name,
            user_value=user.h323,
            pbx_user=user,
            event=device_trigger.event,
            at=device_trigger.at,
            received_at=device_trigger.received_at,
            device=device_trigger.device,
            computer=device_trigger.computer,
            source_ip=device_trigger.source_ip,
            parent_id=device_trigger.pk,
        )
        for user in users
    ]
    with transaction.atomic():
        won = Trigger.objects.filter(pk=device_trigger.pk, status=QUEUED).update(
            status=status, reason=reason[:255], decided_at=now, decision={"users": names}
        )
        if not won:
            return []
        Trigger.objects.bulk_create(children)
    for child in children:
        _announce(child.pk)
    decision_log.info(
        "trigger decided id=%s device=%s event=%s status=%s reason=%r",
        device_trigger.pk,
        device_trigger.device,
        device_trigger.event,
        status,
        reason,
    )
    return children


def _announce(trigger_id: int | None) -> None:
    transaction.on_commit(lambda: queued.send(sender=Trigger, trigger_id=trigger_id))


# ---- decided, applied, failed (the link worker) ---------------------------------------------------


def record_round(triggers: dict[int, Trigger], outcomes: Iterable[Any], sends: Iterable[Any], now: dt.datetime) -> None:
    """A planning round's results (presence.planning Outcome and Send): ends, and claims of what is sent.

    A claim keeps the trigger queued with `decided_at` set and the decision (its "after" included)
    written before the SetPresence goes out, so that a re-decision knows what was sent.
    """
    touched = []
    for outcome in outcomes:
        row = triggers[outcome.trigger_id]
        row.status, row.reason, row.decided_at = outcome.status, outcome.reason[:255], now
        if outcome.status == Trigger.Status.APPLIED:
            row.applied_at = now
        row.decision = {**(row.decision or {}), **outcome.details}
        touched.append(row)
        _log_decided(row)
    for send in sends:
        row = triggers[send.trigger_id]
        row.decided_at = now
        row.decision = {**(row.decision or {}), **send.details}
        touched.append(row)
    update_rows(Trigger, WORKER_FIELDS, touched)


def record_applied(answered: Iterable[tuple[int, dt.datetime]]) -> None:
    """The PBX accepted these (trigger id, when it answered)."""
    update_rows(
        Trigger,
        ["status", "applied_at", "reason"],
        [Trigger(pk=pk, status=Trigger.Status.APPLIED, applied_at=at, reason="") for pk, at in answered],
    )


def record_failed(trigger_id: int, reason: str) -> None:
    Trigger.objects.filter(pk=trigger_id).update(status=Trigger.Status.FAILED, reason=reason[:255])


def release(trigger_id: int) -> None:
    """The link went away before the PBX answered: back to the queue, decided again after reconnect."""
    Trigger.objects.filter(pk=trigger_id, status=QUEUED).update(decided_at=None)


def reset_claims() -> int:
    """On start: triggers a previous holder decided but never finished are decided again."""
    return Trigger.objects.filter(status=QUEUED, decided_at__isnull=False).update(decided_at=None)


def reset_stale_claims(in_flight: set[int], older_than: dt.timedelta) -> int:
    """Decided triggers whose outcome could not be written (e.g. the database blinked) go back to the queue."""
    cutoff = timezone.now() - older_than
    stale = Trigger.objects.filter(status=QUEUED, decided_at__lt=cutoff).exclude(pk__in=in_flight)
    return stale.update(decided_at=None)


def prune(before: dt.datetime, batch: int) -> int:
    """Delete decided rows received before `before`, in batches (one huge DELETE would hold locks)."""
    total = 0
    while True:
        ids = list(
            Trigger.objects.filter(received_at__lt=before).exclude(status=QUEUED).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return total
        with transaction.atomic():
            # A per-user trigger keeps its record when its device trigger goes, without the link.
            Trigger.objects.filter(parent_id__in=ids).update(parent=None)
            total += Trigger.objects.filter(pk__in=ids).delete()[0]


def queue_depth() -> int:
    """Triggers waiting (for /metrics and the admin); 'queued' written into the SQL for its cached plan."""
    table, status = connection.ops.quote_name(Trigger._meta.db_table), connection.ops.quote_name("status")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {status} = '{QUEUED}'")  # noqa: S608
        return cursor.fetchone()[0]


def _log_decided(row: Trigger) -> None:
    decision_log.info(
        "trigger decided id=%s user=%s event=%s status=%s reason=%r",
        row.pk,
        row.pbx_user.h323 if row.pbx_user_id and row.pbx_user else row.user_value,
        row.event,
        row.status,
        row.reason,
    )
