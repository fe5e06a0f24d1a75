"""API keys and the trigger log (the durable record of every authenticated trigger request).

A key is `phk_<prefix>_<secret>`: the 8-character prefix finds the row by index, the secret is
checked against a peppered HMAC-SHA256 in constant time. The pepper (API_KEY_PEPPER) lives outside
the database, so a stolen database alone does not let anyone test guesses offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import string

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PREFIX_LEN = 8
# Events a computer may report with only a `device`: its shutdown script runs as SYSTEM and knows no
# user. The link worker hands each one to the users on that device (presence.link.fanout).
DEVICE_EVENTS = ("shutdown", "startup", "sleep", "resume")
KEY_RE = re.compile(r"^phk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_ALPHABET = string.ascii_letters + string.digits


def new_key() -> tuple[str, str, str]:
    """Returns (clear key, prefix, hash)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LEN))
    clear = f"phk_{prefix}_{secrets.token_urlsafe(32)}"
    return clear, prefix, hash_key(clear)


def looks_like_key(value: str) -> bool:
    """Cheap shape check done before any query."""
    return bool(KEY_RE.match(value))


def prefix_of(value: str) -> str:
    match = KEY_RE.match(value)
    return match.group(1) if match else ""


def hash_key(clear: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), clear.encode(), hashlib.sha256).hexdigest()


def key_matches(clear: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(clear), stored_hash)


def computer_of(device: str) -> str:
    """The computer a trigger's `device` names: "TS-01/RDP-Tcp#3" → "ts-01" (triggers/devices.py says why)."""
    return device.split("/", 1)[0].strip().lower()


class ApiKeyQuerySet(models.QuerySet):
    def for_prefix(self, prefix: str) -> ApiKeyQuerySet:
        """Keys whose current or previous (rotated, in grace) prefix is `prefix`."""
        return self.filter(Q(prefix=prefix) | Q(previous_prefix=prefix))


class ApiKey(models.Model):
    """A named key for the trigger API. Only a prefix and a peppered HMAC are stored."""

    name = models.CharField(
        _("name"), max_length=100, unique=True, help_text=_("Where it is used, e.g. 'GPO Windows clients'.")
    )
    prefix = models.CharField(max_length=PREFIX_LEN, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    rotated_at = models.DateTimeField(_("rotated at"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, help_text=_("Optional: the key stops working then.")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    use_count = models.BigIntegerField(_("use count"), default=0, editable=False)
    # After a rotation the previous key keeps working until `previous_valid_until` (grace period).
    previous_prefix = models.CharField(max_length=PREFIX_LEN, blank=True, db_index=True, editable=False)
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_valid_until = models.DateTimeField(_("previous key valid until"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(cls, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiKey, str]:
        """A new key; returns the row and the clear key, which is shown once and never stored."""
        clear, prefix, digest = new_key()
        row = cls.objects.create(name=name, prefix=prefix, key_hash=digest, expires_at=expires_at)
        return row, clear

    def rotate(self, grace: dt.timedelta) -> str:
        """Replace the key; the old one keeps working for `grace`. Returns the new clear key."""
        clear, prefix, digest = new_key()
        now = timezone.now()
        self.previous_prefix, self.previous_hash = self.prefix, self.key_hash
        self.previous_valid_until = now + grace if grace > dt.timedelta(0) else None
        if not self.previous_valid_until:
            self.previous_prefix = self.previous_hash = ""
        self.prefix, self.key_hash, self.rotated_at = prefix, digest, now
        self.save()
        return clear

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.previous_valid_until = None
        self.save(update_fields=["revoked_at", "previous_valid_until"])

    def refusal(self, clear_key: str, now: dt.datetime) -> str | None:
        """None when `clear_key` is this key and usable now; otherwise the reason (for 401)."""
        prefix = prefix_of(clear_key)
        if prefix == self.prefix and key_matches(clear_key, self.key_hash):
            pass
        elif prefix == self.previous_prefix and self.previous_hash and key_matches(clear_key, self.previous_hash):
            if not self.previous_valid_until or self.previous_valid_until <= now:
                return "This key was rotated and its grace period has ended: use the new key."
        else:
            return "Unknown API key."
        if self.revoked_at:
            return "This API key was revoked."
        if self.expires_at and self.expires_at <= now:
            return "This API key has expired."
        return None

    @property
    def state(self) -> str:
        now = timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        if self.previous_valid_until and self.previous_valid_until > now:
            return "rotating"
        return "active"

    def is_due_for_rotation(self, rotation_days: int) -> bool:
        born = self.rotated_at or self.created_at
        return self.state == "active" and timezone.now() - born > dt.timedelta(days=rotation_days)


class Trigger(models.Model):
    """One trigger: what a computer (or a user's button, or the heartbeat timer) reported, and what came of it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        APPLIED = "applied", _("Applied")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")
        REFUSED = "refused", _("Refused")
        SUPERSEDED = "superseded", _("Superseded")
        # A device-only trigger handed to the users on that device, each as a trigger of its own.
        DISPATCHED = "dispatched", _("Dispatched to users")

    class Source(models.TextChoices):
        API = "api", _("API")
        BUTTON = "button", _("User page button")
        SYSTEM = "system", _("Service (heartbeat expiry)")

    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    at = models.DateTimeField(_("happened at"))
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.API)
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("API key")
    )
    key_name = models.CharField(_("key name"), max_length=100, blank=True)
    user_value = models.CharField(_("user (as sent)"), max_length=255, blank=True)
    pbx_user = models.ForeignKey(
        "presence.PbxUser",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggers",
        verbose_name=_("PBX user"),
    )
    event = models.CharField(_("event"), max_length=64, blank=True)
    device = models.CharField(_("device"), max_length=255, blank=True)
    # The computer part of `device`, lower-cased ("TS-01/RDP-Tcp#3" → "ts-01"): how a device-only
    # trigger finds the users on that computer, whichever session they are in.
    computer = models.CharField(_("computer"), max_length=255, blank=True, editable=False)
    # The device-only trigger this per-user trigger was made from. DO_NOTHING: the log is pruned in bulk
    # (triggers.queue.prune detaches the children first, so its DELETE stays one plain statement).
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="children",
        editable=False,
        verbose_name=_("computer-level trigger"),
    )
    client_id = models.CharField(_("idempotency key"), max_length=128, blank=True)
    source_ip = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    # English: the API answers it and the log keeps it; the admin shows it translated (triggers.wording).
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), default=202)
    # The decision: rule, preset or restore, presence before and after.
    decision = models.JSONField(_("decision"), default=dict, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    applied_at = models.DateTimeField(
        _("applied at"), null=True, blank=True, help_text=_("When the PBX answered SetPresence.")
    )

    class Meta:
        verbose_name = _("trigger")
        verbose_name_plural = _("triggers")
        indexes = [
            models.Index(fields=["-received_at"], name="trigger_received"),
            models.Index(fields=["status", "received_at"], name="trigger_status"),
            models.Index(fields=["pbx_user", "-at"], name="trigger_user_at"),
            models.Index(fields=["computer", "-at"], name="trigger_computer_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "client_id"], condition=~Q(client_id=""), name="uniq_trigger_client_id"
            ),
            # One decision per user and device trigger, however often the hand-out is tried.
            models.UniqueConstraint(
                fields=["parent", "pbx_user"], condition=Q(parent__isnull=False), name="uniq_trigger_parent_user"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event} {self.user_value}"

    @property
    def for_device_only(self) -> bool:
        """Posted with a device and no user (a computer's shutdown script): handed to its users later."""
        return not self.user_value and self.parent_id is None and self.source == self.Source.API

    @classmethod
    def device_only(cls) -> Q:
        """`for_device_only` as a query condition (the admin's scope filter)."""
        return Q(user_value="", parent__isnull=True, source=cls.Source.API)

    def as_api(self) -> dict:
        """The JSON the API answers with (no `user` for a device-only trigger)."""
        body = {"id": self.pk, "status": self.status}
        if not self.for_device_only:
            body["user"] = self.pbx_user.h323 if self.pbx_user_id and self.pbx_user else self.user_value
        body.update(
            event=self.event,
            at=self.at.isoformat() if self.at else None,
            received_at=self.received_at.isoformat(),
        )
        if self.device:
            body["device"] = self.device
        if self.reason:
            body["reason"] = self.reason
        if self.applied_at:
            body["applied_at"] = self.applied_at.isoformat()
        return body
