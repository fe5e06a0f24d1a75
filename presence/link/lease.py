"""The link lease: exactly one `runpbxlink` holds the PBX link at a time.

A row in the database (PostgreSQL or SQLite) with an expiry, taken and renewed by one conditional
UPDATE that reports whether it won, using the database's clock so that hosts' clocks do not matter.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from django.db.models import DateTimeField, ExpressionWrapper, Q, Value
from django.db.models.functions import Now

from presence.models import LinkStatus

LEASE_SECONDS = 8.0  # a dead holder's lease runs out within this; a standby polls every second


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _until(seconds: float):
    return ExpressionWrapper(Now() + Value(dt.timedelta(seconds=seconds)), output_field=DateTimeField())


def try_acquire(holder: str, seconds: float = LEASE_SECONDS) -> bool:
    """Take the lease if it is free or expired, or renew it if we hold it. True when we hold it."""
    LinkStatus.current()  # make sure the row exists
    won = LinkStatus.objects.filter(
        Q(holder=holder) | Q(holder="") | Q(lease_until__isnull=True) | Q(lease_until__lt=Now()), pk=1
    ).update(holder=holder, lease_until=_until(seconds))
    return won == 1


def renew(holder: str, seconds: float = LEASE_SECONDS) -> bool:
    """Extend our lease; False when someone else holds it now (we must stop at once)."""
    return LinkStatus.objects.filter(pk=1, holder=holder).update(lease_until=_until(seconds)) == 1


def release(holder: str) -> None:
    LinkStatus.objects.filter(pk=1, holder=holder).update(holder="", lease_until=None, connected=False)
