"""Who is on a computer, read from the trigger log: for device-only triggers and the admin's user page.

A user is on a computer when their newest trigger from it — within the admin's window, up to the
moment asked about — was anything but leaving it (logoff, shutdown). Computers are compared by the
part of `device` before the first "/", case-insensitively: the recipes send the computer name, and on
a terminal server "COMPUTER/SESSION", so a user who reconnects to another session is still on it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from triggers.models import Trigger

# A user's newest trigger from a computer being one of these means they are no longer on it.
LEAVING_EVENTS = ("logoff", "shutdown")


def _newest_per(queryset, partition: str):
    """The newest row (by `at`, then id) of each `partition` value in `queryset`."""
    ranked = queryset.annotate(
        newest=Window(RowNumber(), partition_by=[F(partition)], order_by=[F("at").desc(), F("id").desc()])
    )
    return ranked.filter(newest=1)


def users_on(computer: str, at: dt.datetime, window: dt.timedelta) -> list[int]:
    """Ids of the PBX users on `computer` at `at`: their newest trigger from it in [at - window, at] left
    them there. Refused triggers do not count (they were never accepted)."""
    if not computer:
        return []
    seen = Trigger.objects.filter(computer=computer, at__gte=at - window, at__lte=at, pbx_user__isnull=False).exclude(
        status=Trigger.Status.REFUSED
    )
    newest = _newest_per(seen, "pbx_user_id").values_list("pbx_user_id", "event")
    return sorted(user_id for user_id, event in newest if event not in LEAVING_EVENTS)


def devices_seen(user_id: int, limit: int = 20) -> list[dict]:
    """The computers a user's triggers came from, newest first: device as last sent, its event and time."""
    seen = Trigger.objects.filter(pbx_user_id=user_id).exclude(computer="")
    rows = _newest_per(seen, "computer").values("computer", "device", "event", "at", "status")
    return sorted(rows, key=lambda row: row["at"], reverse=True)[:limit]
