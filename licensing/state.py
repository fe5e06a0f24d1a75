"""The licence state in one small dict, and what it allows: for the trigger path, /healthz, /metrics,
the admin banner and the link worker.

Computed from the active licence key (re-verified, so an edited row or a changed
LICENSE_PUBLIC_KEY is noticed), then cached briefly: the trigger path asks on every request and
must not pay for a signature check each time. Every change invalidates it at once in this process
and again when its transaction commits; other processes see it within CACHE_SECONDS at most (a
local-memory cache is per process).

Two layers: `licence_state()` (no seat count — what refusal_for and the admin banner need, so
neither ever counts a table) and `licence_status()` (the same plus seats_used).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from licensing import tokens, trust
from licensing.models import Installation, Licence, Seat
from licensing.signals import licence_changing

STATE_KEY = "licensing:state"
STATUS_KEY = "licensing:status"
CACHE_SECONDS = 15
WARN_DAYS = 30
BLOCKING_STATES = ("expired", "none")

log = logging.getLogger("licensing")


def local_today() -> dt.date:
    """Licence dates are days in the installation's time zone (TIME_ZONE)."""
    return timezone.localdate()


def revision() -> int:
    """The count of licence and seat changes so far (Installation.announce_change)."""
    found = Installation.objects.filter(pk=1).values_list("revision", flat=True).first()
    return found or 0


@receiver(licence_changing, dispatch_uid="licensing-state-forget")
def _changing(sender, **kwargs) -> None:
    invalidate()


def invalidate() -> None:
    """Forget the cached state now and again after commit (so no reader caches the pre-commit state)."""
    forget()
    transaction.on_commit(forget)


def forget() -> None:
    """Drop the cached licence state: this process's copy and the shared cache's (another process changed it)."""
    global _local
    _local = None
    try:
        cache.delete_many([STATE_KEY, STATUS_KEY])
    except Exception as exc:  # a cache outage must not break a licence change; the TTL bounds staleness
        log.warning("could not invalidate the cached licence state (%s)", exc)


# Every trigger asks: a process-local copy for LOCAL_SECONDS saves a cache round trip per request.
LOCAL_SECONDS = 2.0
_local: tuple[float, dict] | None = None


def licence_state() -> dict:
    """The licence state without the seat count (cached). Keys as in `licence_status` but seats_used."""
    global _local
    if _local is not None and time.monotonic() - _local[0] < LOCAL_SECONDS:
        return _local[1]
    found = _get(STATE_KEY)
    if found is None:
        found = compute_state()
        _set(STATE_KEY, found)
    _local = (time.monotonic(), found)
    return found


def licence_status() -> dict:
    """The current licence state (JSON-serialisable, cached).

    Keys: state ("valid", "expiring", "expired", "none" or "demo"), customer, seats_total,
    seats_used, valid_until (ISO date or None), days_left (None without a licence, 0 once
    expired), demo (bool), instance_id, and message (one sentence for people).
    """
    found = _get(STATUS_KEY)
    if found is None:
        # The seat table is bounded by the licence's seats, so this count stays small.
        found = {**licence_state(), "seats_used": Seat.objects.count()}
        _set(STATUS_KEY, found)
    return found


def _get(key: str) -> dict | None:
    try:
        return cache.get(key)
    except Exception as exc:  # Redis down: answer from the database rather than fail the request
        log.warning("licence state cache unavailable (%s)", exc)
        return None


def _set(key: str, value: dict) -> None:
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception as exc:
        log.warning("could not cache the licence state (%s)", exc)


def compute_status(today: dt.date | None = None) -> dict:
    """The state with the seat count, straight from the database (no cache)."""
    return {**compute_state(today), "seats_used": Seat.objects.count()}


def compute_state(today: dt.date | None = None) -> dict:
    """The state without the seat count, straight from the database (no cache)."""
    today = today or local_today()
    instance_id = Installation.current().instance_id
    status = {
        "state": "none",
        "customer": "",
        "seats_total": 0,
        "valid_until": None,
        "days_left": None,
        "demo": False,
        "instance_id": instance_id,
        "message": "",
    }
    licence = Licence.objects.filter(active=True).first()
    if licence is None:
        status["message"] = "No licence has been entered: no automatic changes are made. Enter a licence key."
        return status
    try:
        terms = tokens.verify(licence.token, trust.trusted_public_key(), instance_id=instance_id, today=None)
    except (tokens.InvalidLicence, trust.NoTrustedKey) as exc:
        status["message"] = f"The active licence key is not accepted: {exc} No automatic changes are made."
        return status
    days_left = (terms.valid_until - today).days
    until = terms.valid_until.isoformat()
    status.update(
        customer=terms.customer,
        seats_total=terms.seats,
        valid_until=until,
        days_left=max(days_left, 0),
        demo=terms.demo,
    )
    if days_left < 0:
        status["state"] = "expired"
        status["message"] = f"The licence expired on {until}: no automatic changes are made. Enter a new licence key."
    elif terms.valid_from > today:
        # Only when the clock went back after the key was entered: treat it like no licence.
        status["days_left"] = None
        status["message"] = (
            f"The licence is valid only from {terms.valid_from.isoformat()}: no automatic changes are made."
        )
    elif terms.demo:
        status["state"] = "demo"
        status["message"] = (
            f"Demo licence: {terms.seats} seats, valid until {until} ({_days(days_left)} left). Order a licence for "
            f"instance id {instance_id} to keep it running."
        )
    elif days_left <= WARN_DAYS:
        status["state"] = "expiring"
        status["message"] = (
            f"The licence for {terms.customer} expires on {until} ({_days(days_left)} left): enter a new "
            "licence key before then."
        )
    else:
        status["state"] = "valid"
        status["message"] = f"Licensed to {terms.customer}: {terms.seats} seats, valid until {until}."
    return status


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


# ---- what the licence allows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    code: str  # "not_licensed" | "licence_expired"
    detail: str


NOT_LICENSED = Refusal("not_licensed", "This user is not licensed: an administrator must switch their licence on.")
_SEAT_SQL = f"SELECT 1 FROM {Seat._meta.db_table} WHERE user_guid = %s"  # noqa: S608


def seated_sql(guid_column: str) -> str:
    """An SQL EXISTS that is true when the user whose guid is in `guid_column` has a seat: for
    hand-written queries that read the licence switch along with the user (identity matching, the
    link worker's planning) instead of asking in a query of their own."""
    return f"EXISTS (SELECT 1 FROM {Seat._meta.db_table} seat WHERE seat.user_guid = {guid_column})"  # noqa: S608


def is_licensed(user_guid: str) -> bool:
    # Written out: it runs for every button press, and the ORM's exists() cost 3x the query itself.
    with connection.cursor() as cursor:
        cursor.execute(_SEAT_SQL, [user_guid])
        return cursor.fetchone() is not None


def licence_refusal() -> Refusal | None:
    """Why no automatic change may be made for anybody now (no valid licence), or None."""
    status = licence_state()
    if status["state"] not in BLOCKING_STATES:
        return None
    if status["state"] == "expired":
        return Refusal(
            "licence_expired", f"The licence expired on {status['valid_until']}: no automatic changes are made."
        )
    return Refusal("licence_expired", "There is no valid licence: no automatic changes are made.")


def refusal_for(user_guid: str, *, seated: bool | None = None) -> Refusal | None:
    """None when the user may be changed now; otherwise why not.

    Cheap on purpose (it runs for every trigger): the licence state comes from the cache, and the
    seat is one lookup on a unique index — or none, when the caller read the switch already
    (`seated`, as identity matching does).
    """
    refusal = licence_refusal()
    if refusal is not None:
        return refusal
    return None if (is_licensed(user_guid) if seated is None else seated) else NOT_LICENSED
