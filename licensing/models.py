"""Seats: which PBX users this installation may touch (one seat per user, any number of devices)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Seat(models.Model):
    """A PBX user's licence switch is on when a Seat row exists for their GUID.

    Keyed by the PBX GUID rather than a foreign key so that licensing stays a leaf: the presence
    and triggers apps ask it, it asks nobody.
    """

    user_guid = models.CharField(max_length=64, unique=True)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.user_guid
