"""The one small function other apps ask: may this PBX user be touched now?"""

from __future__ import annotations

from dataclasses import dataclass

from licensing.models import Seat


@dataclass(frozen=True)
class Refusal:
    code: str  # "not_licensed" | "licence_expired"
    detail: str


def is_licensed(user_guid: str) -> bool:
    return Seat.objects.filter(user_guid=user_guid).exists()


def refusal_for(user_guid: str) -> Refusal | None:
    """None when the user may be changed now; otherwise why not."""
    if not is_licensed(user_guid):
        return Refusal("not_licensed", "This user is not licensed: an administrator must switch their licence on.")
    return None


def set_switch(user_guids: list[str], on: bool, by=None) -> int:
    """Turn licence switches on or off; returns how many changed."""
    if on:
        have = set(Seat.objects.filter(user_guid__in=user_guids).values_list("user_guid", flat=True))
        new = [Seat(user_guid=g, granted_by=by) for g in dict.fromkeys(user_guids) if g not in have]
        Seat.objects.bulk_create(new, ignore_conflicts=True)
        return len(new)
    deleted, _ = Seat.objects.filter(user_guid__in=user_guids).delete()
    return deleted


class SeatLimitExceeded(Exception):
    """Turning these switches on would use more seats than the licence has."""
