"""The one write path of the trigger API: turn a validated request into a durable Trigger row."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from heartbeat_site.rowsql import insert_row
from licensing.seats import refusal_for
from presence.identity import AmbiguousUser, UnknownUser, resolve_user
from presence.link.handoff import hand_to_link, notify_on_insert
from presence.models import ServiceSettings
from triggers.errors import Refused
from triggers.models import ApiKey, Trigger
from triggers.throttles import enforce_user_rate

log = logging.getLogger("triggers.accept")


class Replay(Exception):
    """The idempotency key was seen before: answer what was answered then."""

    def __init__(self, trigger: Trigger):
        self.trigger = trigger


def replay_body(trigger: Trigger) -> tuple[int, dict]:
    if trigger.status == Trigger.Status.REFUSED:
        return trigger.http_status, {"error": trigger.decision.get("error", "refused"), "detail": trigger.reason}
    return trigger.http_status, trigger.as_api()


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
    """Resolve, check the licence, write the row (committed), hand it to the link; raise Refused otherwise."""
    now = timezone.now()
    fields = {
        "api_key": api_key,
        "key_name": api_key.name,
        "user_value": user,
        "event": event,
        "at": at or now,
        "received_at": now,
        "device": device,
        "client_id": client_id,
        "source_ip": source_ip,
    }
    try:
        match = resolve_user(user, strip=ServiceSettings.current().strip_domain)
    except UnknownUser as exc:
        raise RefusedTrigger(404, exc.code, str(exc), fields) from exc
    except AmbiguousUser as exc:
        raise RefusedTrigger(409, exc.code, str(exc), fields) from exc
    fields["pbx_user"] = match.user
    enforce_user_rate(api_key.pk, match.user.pk)  # per PBX user, however spelled; a 429 writes no row
    refusal = refusal_for(match.user.guid, seated=match.licensed)
    if refusal is not None:
        raise RefusedTrigger(403, refusal.code, refusal.detail, fields)
    try:
        # Autocommit: the INSERT is its own transaction, committed before the 202 goes out. On
        # PostgreSQL it also wakes the link worker (NOTIFY, delivered at that commit).
        trigger = Trigger(status=Trigger.Status.QUEUED, http_status=202, **fields)
        notify = notify_on_insert()
        insert_row(trigger, notify=notify)
    except IntegrityError:
        first = find_replay(api_key, client_id)
        if first is None:
            raise
        raise Replay(first) from None
    # Committed: now (and only now) the link worker may hear of it. The database stays the truth.
    if notify is None:
        hand_to_link(trigger.pk)
    log.info(
        "trigger accepted id=%s key=%s user=%s event=%s device=%s",
        trigger.pk,
        api_key.name,
        match.user.h323,
        event,
        device or "-",
    )
    return trigger


class RefusedTrigger(Refused):
    """A refusal that knows what to write in the audit row."""

    def __init__(self, status_code: int, code: str, detail: str, fields: dict):
        super().__init__(status_code, code, detail)
        self.fields = fields


def record_refusal(fields: dict, status_code: int, body: dict) -> Trigger | None:
    """The audit row for a refused request. Idempotent: a repeated client id does not add a row."""
    fields = dict(fields)
    fields.setdefault("at", fields.get("received_at") or timezone.now())
    try:
        with transaction.atomic():
            row = Trigger.objects.create(
                status=Trigger.Status.REFUSED,
                http_status=status_code,
                reason=body.get("detail", "")[:255],
                decision={"error": body.get("error", "refused")},
                **fields,
            )
    except IntegrityError:
        return None
    log.info(
        "trigger refused id=%s key=%s user=%r status=%s error=%s",
        row.pk,
        fields.get("key_name", ""),
        fields.get("user_value", ""),
        status_code,
        body.get("error"),
    )
    return row
