"""The one small function other apps ask (may this PBX user be touched now?) and the switches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from licensing import tokens, trust
from licensing.models import Installation, Licence, Seat
from licensing.state import BLOCKING_STATES, announce, licence_state, licence_status

# Keeps every IN (…) list well below SQLite's and PostgreSQL's bound-parameter limits, so that
# "select all 50,000 users → license selected" works on both.
CHUNK = 500


@dataclass(frozen=True)
class Refusal:
    code: str  # "not_licensed" | "licence_expired"
    detail: str


class SeatLimitExceeded(Exception):
    """Turning these switches on would use more seats than the licence has."""

    def __init__(self, total: int, used: int, wanted: int, *, no_licence: bool = False):
        self.total, self.used, self.wanted = total, used, wanted
        if no_licence:
            message = "There is no licence to take seats from: enter a licence key before switching users on."
        else:
            free = max(total - used, 0)
            users = "user" if wanted == 1 else "users"
            message = (
                f"Not enough seats: {used} of {total} in use, {free} free, and {wanted} more {users} "
                "asked for. Switch someone off or order more seats."
            )
        super().__init__(message)


_SEAT_SQL = f"SELECT 1 FROM {Seat._meta.db_table} WHERE user_guid = %s"  # noqa: S608


def seated_sql(guid_column: str) -> str:
    """An SQL EXISTS that is true when the user whose guid is in `guid_column` has a seat: for
    hand-written queries that read the licence switch along with the user (identity matching, the
    link worker's planning) instead of asking in a query of their own."""
    return f"EXISTS (SELECT 1 FROM {Seat._meta.db_table} seat WHERE seat.user_guid = {guid_column})"  # noqa: S608


def is_licensed(user_guid: str) -> bool:
    # Written out: it runs for every trigger, and the ORM's exists() cost 3× the query itself.
    with connection.cursor() as cursor:
        cursor.execute(_SEAT_SQL, [user_guid])
        return cursor.fetchone() is not None


def refusal_for(user_guid: str, *, seated: bool | None = None) -> Refusal | None:
    """None when the user may be changed now; otherwise why not.

    Cheap on purpose (it runs for every trigger): the licence state comes from the cache, and the
    seat is one lookup on a unique index — or none, when the caller read the switch already
    (`seated`, as identity matching does).
    """
    status = licence_state()
    if status["state"] in BLOCKING_STATES:
        if status["state"] == "expired":
            detail = f"The licence expired on {status['valid_until']}: no automatic changes are made."
        else:
            detail = "There is no valid licence: no automatic changes are made."
        return Refusal("licence_expired", detail)
    if not (is_licensed(user_guid) if seated is None else seated):
        return Refusal("not_licensed", "This user is not licensed: an administrator must switch their licence on.")
    return None


def refusals_for(user_guids: list[str], *, seated: set[str] | None = None) -> dict[str, Refusal]:
    """`refusal_for` for many users at once (the link worker decides triggers in batches): one query,
    none when the caller already read which of them have a seat (`seated`)."""
    status = licence_state()
    if status["state"] in BLOCKING_STATES:
        refusal = refusal_for(user_guids[0]) if user_guids else None
        return dict.fromkeys(user_guids, refusal) if refusal else {}
    if seated is None:
        seated = set(Seat.objects.filter(user_guid__in=user_guids).values_list("user_guid", flat=True))
    missing = Refusal("not_licensed", "This user is not licensed: an administrator must switch their licence on.")
    return {guid: missing for guid in user_guids if guid not in seated}


def seats_total_locked() -> int | None:
    """Seats of the active licence, read from its verified key (None: no usable licence).

    Call with the installation locked. An expired licence still bounds the switches, so that an
    administrator can prepare the list while the renewal is on its way.
    """
    licence = Licence.objects.filter(active=True).first()
    if licence is None:
        return None
    try:
        terms = tokens.verify(
            licence.token, trust.trusted_public_key(), instance_id=Installation.current().instance_id, today=None
        )
    except (tokens.InvalidLicence, trust.NoTrustedKey):
        return None
    return terms.seats


def set_switch(user_guids: Iterable[str], on: bool, by=None) -> int:
    """Turn licence switches on or off; returns how many changed.

    Turning on is all or nothing: if the new seats do not fit, SeatLimitExceeded is raised and no
    switch moves. The count and the insert happen in one transaction holding the installation
    row's lock, so two administrators at once cannot both take the last seat. Turning off always
    works (also without a valid licence).
    """
    guids = list(dict.fromkeys(g for g in user_guids if g))
    if not guids:
        return 0
    with transaction.atomic():
        if on:
            Installation.lock()
            have: set[str] = set()
            for part in _chunks(guids):
                have.update(Seat.objects.filter(user_guid__in=part).values_list("user_guid", flat=True))
            new = [g for g in guids if g not in have]
            if new:
                total, used = seats_total_locked(), Seat.objects.count()
                if total is None or used + len(new) > total:
                    raise SeatLimitExceeded(total or 0, used, len(new), no_licence=total is None)
                Seat.objects.bulk_create([Seat(user_guid=g, granted_by=by) for g in new], batch_size=CHUNK)
            changed = len(new)
        else:
            changed = sum(Seat.objects.filter(user_guid__in=part).delete()[0] for part in _chunks(guids))
        if changed:
            announce()
    return changed


def seats_free() -> int:
    """Free seats now (from the cached state; for display, not for decisions)."""
    status = licence_status()
    return max(status["seats_total"] - status["seats_used"], 0)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
