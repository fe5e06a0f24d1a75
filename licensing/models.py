"""This installation's identity, its licence keys (with history) and the seats they grant."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from licensing import tokens, trust
from licensing.signals import licence_changed, licence_changing


def new_instance_id() -> str:
    """80 random bits as four groups of base32 (no 0/1/8/9 to misread): easy to read out and type."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii")
    return "HB-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


class Installation(models.Model):
    """This installation (always one row, pk 1): the instance id a licence is issued for.

    It is also the row that every seat-changing transaction locks (SELECT … FOR UPDATE), so that
    counting the seats and adding one happen as one step even with two administrators at once.
    """

    instance_id = models.CharField(max_length=40, unique=True, default=new_instance_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Counts every change of seats or licence (licensing.state.announce): a process that cannot hear
    # this one's signal (the link worker elsewhere) polls it to notice changes within a second.
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return self.instance_id

    @classmethod
    def current(cls) -> Installation:
        """The row, created with a fresh instance id on first use (race-safe: get_or_create on pk)."""
        return cls.objects.get_or_create(pk=1)[0]

    @classmethod
    def lock(cls) -> Installation:
        """The row, locked until the surrounding transaction ends. Call inside transaction.atomic()."""
        cls.current()
        return cls.objects.select_for_update().get(pk=1)

    @classmethod
    def announce_change(cls) -> None:
        """Seats or the licence changed (call inside the changing transaction): every process hears of it.

        This process at once (`licence_changing`) and at commit (`licence_changed`); the others through
        the revision, which the link worker polls.
        """
        cls.current()
        cls.objects.filter(pk=1).update(revision=F("revision") + 1)
        licence_changing.send(sender=cls)
        transaction.on_commit(lambda: licence_changed.send(sender=cls))


class Licence(models.Model):
    """A licence key entered here. One is active; older ones stay as history.

    The columns copy the key's terms for listing and searching; decisions are made from the
    key itself, re-verified (see `state.licence_status`), so editing a row cannot add seats.
    """

    token = models.TextField(editable=False)
    customer = models.CharField(max_length=255, editable=False)
    instance_id = models.CharField(max_length=40, editable=False)
    seats = models.PositiveIntegerField(editable=False)
    valid_from = models.DateField(editable=False)
    valid_until = models.DateField(editable=False)
    issued_at = models.DateTimeField(editable=False)
    serial = models.BigIntegerField(editable=False)
    demo = models.BooleanField(default=False, editable=False)
    entered_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    active = models.BooleanField(default=False, editable=False)
    replaced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = verbose_name_plural = _("licence")
        ordering = ["-entered_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_licence")]
        permissions = [("activate_licence", "Can enter licence keys")]

    def __str__(self) -> str:
        kind = "demo licence" if self.demo else "licence"
        return f"{kind} {self.serial} for {self.customer} ({self.seats} seats, until {self.valid_until})"

    @property
    def terms(self) -> tokens.LicenceTerms:
        return tokens.parse(self.token)[2]

    @classmethod
    def examine(cls, token: str, today=None) -> tokens.LicenceTerms:
        """The terms of `token` if entering it now would succeed; InvalidLicence with the reason otherwise.

        The admin's confirm page shows these terms before anything is saved.
        """
        tokens.parse(token)  # a damaged key is damaged whatever this installation trusts: say that first
        try:
            key = trust.trusted_public_key()
        except trust.NoTrustedKey as exc:
            raise tokens.InvalidLicence("no_trusted_key", str(exc)) from None
        # Licence dates are days in the installation's time zone (TIME_ZONE).
        terms = tokens.verify(
            token, key, instance_id=Installation.current().instance_id, today=today or timezone.localdate()
        )
        current = cls.objects.filter(active=True).first()
        if current is not None:
            if current.token == "".join(token.split()):
                raise tokens.InvalidLicence("already_active", "This licence key is already the active one.")
            # A demo licence gives way to any genuine key; between genuine keys the newer one wins.
            if not current.demo and (terms.issued_at, terms.serial) < (current.issued_at, current.serial):
                raise tokens.InvalidLicence(
                    "older",
                    f"This licence key (serial {terms.serial}, issued {terms.issued_at:%Y-%m-%d}) is older than "
                    f"the active one (serial {current.serial}, issued {current.issued_at:%Y-%m-%d}): nothing was "
                    "changed.",
                )
        used = Seat.objects.count()
        if terms.seats < used:
            raise tokens.InvalidLicence(
                "too_few_seats",
                f"This licence key has {terms.seats} seats but {used} users are switched on: switch "
                f"{used - terms.seats} off first, then enter the key again.",
            )
        return terms

    @classmethod
    def enter(cls, token: str, *, by=None) -> Licence:
        """Make `token` the active licence (history kept); InvalidLicence and nothing changed otherwise."""
        token = "".join(token.split())
        with transaction.atomic():
            # Same lock as switching seats on: the seat count checked here cannot change under us.
            Installation.lock()
            terms = cls.examine(token)
            licence = cls.store(token, terms, by=by)
            Installation.announce_change()
        return licence

    @classmethod
    def store(cls, token: str, terms, *, by=None) -> Licence:
        """Make an examined key the active licence, keeping the others as history (no checks here)."""
        now = timezone.now()
        cls.objects.filter(active=True).update(active=False, replaced_at=now)
        return cls.objects.create(
            token=token,
            customer=terms.customer,
            instance_id=terms.instance,
            seats=terms.seats,
            valid_from=terms.valid_from,
            valid_until=terms.valid_until,
            issued_at=terms.issued_at,
            serial=terms.serial,
            demo=terms.demo,
            entered_at=now,
            entered_by=by,
            active=True,
        )


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
