"""The licence switches: one seat per PBX user, all or nothing within the licence's seats."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from licensing import tokens, trust
from licensing.models import Installation, Licence, Seat

# Keeps every IN (…) list well below SQLite's and PostgreSQL's bound-parameter limits, so that
# "select all 50,000 users → license selected" works on both.
CHUNK = 500


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
            Installation.announce_change()
    return changed


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
