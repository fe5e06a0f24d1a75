"""The PBX users directory, the admin's presence configuration, and what the engine remembers."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from presence.engine import regex_error

BUILTIN_EVENTS = ("logon", "logoff", "lock", "unlock", "shutdown", "startup", "sleep", "resume", "heartbeat")
RULE_EVENTS = ("logon", "logoff", "lock", "unlock", "shutdown", "startup", "sleep", "resume", "heartbeat-lost")
STANDARD_ACTIVITIES = ("", "away", "busy", "dnd")
# A day: a device that stays silent longer is off whatever the timeout, and the worker computes
# "now - timeout" with it (a huge value overflowed the date range).
MAX_HEARTBEAT_TIMEOUT_MINUTES = 1440
ACTIVITY_COLOURS = {"": "#badb8c", "away": "#ffd063", "busy": "#ff918f", "dnd": "#cb8cdb"}

activity_validator = RegexValidator(
    r"^([a-z][a-z-]{0,31})?$",
    _('Use "" (available), away, busy, dnd or another lower-case RFC 4480 activity such as lunch.'),
)
event_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,63}$",
    _("Use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit (max 64)."),
)


class PbxUser(models.Model):
    """One user object of the PBX, replicated from PbxTableUsers (or entered by hand)."""

    guid = models.CharField(_("GUID"), max_length=64, unique=True, help_text=_("The PBX object's GUID (hex)."))
    h323 = models.CharField(_("login name"), max_length=255, blank=True, help_text=_("The PBX Name (h323/SIP)."))
    cn = models.CharField(_("long name"), max_length=255, blank=True)
    dn = models.CharField(_("display name"), max_length=255, blank=True)
    e164 = models.CharField(_("number"), max_length=64, blank=True)
    node = models.CharField(_("node"), max_length=255, blank=True)
    emails = models.JSONField(
        _("e-mails"), default=list, blank=True, help_text=_("E-mail addresses, as a JSON list of strings.")
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Off when the user was removed from the PBX."))
    # Lower-cased copies for identity matching and search: indexed, cheap equality lookups.
    h323_key = models.CharField(max_length=255, db_index=True, editable=False, default="")
    e164_key = models.CharField(max_length=64, db_index=True, editable=False, default="")
    search_text = models.TextField(editable=False, default="")

    # What the PBX reports (SubscribePresence): every contact, newest first.
    presence = models.JSONField(_("presence"), default=list, blank=True, editable=False)
    presence_at = models.DateTimeField(_("presence reported at"), null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("PBX user")
        verbose_name_plural = _("PBX users")
        ordering = ["cn", "h323"]

    def __str__(self) -> str:
        return self.cn or self.dn or self.h323 or self.guid

    def save(self, *args, **kwargs) -> None:
        self.fill_keys()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"h323_key", "e164_key", "search_text"}
        super().save(*args, **kwargs)
        self.sync_emails()

    def fill_keys(self) -> None:
        self.emails = [e.strip() for e in (self.emails or []) if isinstance(e, str) and e.strip()]
        self.h323_key = self.h323.strip().lower()
        self.e164_key = self.e164.strip().lower()
        self.search_text = " ".join([self.cn, self.dn, self.h323, self.e164, *self.emails]).lower()

    def sync_emails(self) -> None:
        wanted = {e.lower() for e in self.emails}
        have = set(self.email_rows.values_list("email", flat=True))
        if wanted != have:
            self.email_rows.exclude(email__in=wanted).delete()
            PbxUserEmail.objects.bulk_create([PbxUserEmail(user=self, email=e) for e in wanted - have])

    def contact(self, contact: str = "tel:") -> dict:
        """The presence entry for one contact (`tel:` by default); empty when the PBX sent none."""
        for item in self.presence or []:
            if item.get("contact") == contact:
                return item
        return {}


class PbxUserEmail(models.Model):
    """A user's e-mail address, lower-cased, for exact identity matching by index."""

    user = models.ForeignKey(PbxUser, on_delete=models.CASCADE, related_name="email_rows")
    email = models.CharField(max_length=255, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "email"], name="uniq_user_email")]

    def __str__(self) -> str:
        return self.email


class Preset(models.Model):
    """A presence the admin offers: activity + note (+ the colour shown for it)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    activity = models.CharField(
        _("activity"),
        max_length=32,
        blank=True,
        validators=[activity_validator],
        help_text=_(
            'Empty = available; "away", "busy", "dnd". Other RFC 4480 activities (e.g. "lunch", '
            '"vacation") are sent as they are, but myApps may not colour them.'
        ),
    )
    note = models.CharField(
        _("note"),
        max_length=255,
        blank=True,
        help_text=_("Shown next to the presence. Placeholders: {time}, {date} (server time zone), {device}."),
    )
    color = models.CharField(
        _("colour"),
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #ffd063."))],
        help_text=_("Shown in the admin and on the user page. Empty = myApps' colour for the activity."),
    )
    show_on_user_page = models.BooleanField(
        _("show on user page"), default=False, help_text=_("Offer it as a button on the user page.")
    )
    order = models.PositiveIntegerField(_("order"), default=0, help_text=_("Buttons are shown in this order."))

    class Meta:
        verbose_name = _("preset")
        verbose_name_plural = _("presets")
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_color(self) -> str:
        return self.color or ACTIVITY_COLOURS.get(self.activity, "#d9d9d9")


class EventRule(models.Model):
    """What an event does: set a preset, restore what lock replaced, or nothing."""

    class Action(models.TextChoices):
        PRESET = "preset", _("Set a preset")
        RESTORE = "restore", _("Restore the presence before")
        NOTHING = "nothing", _("Do nothing")

    event = models.CharField(
        _("event"),
        max_length=64,
        unique=True,
        validators=[event_name_validator],
        help_text=_(
            "logon, logoff, lock, unlock, shutdown, startup, sleep, resume, heartbeat-lost — or a custom "
            "event name of your own, which the trigger API then accepts."
        ),
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices, default=Action.PRESET)
    preset = models.ForeignKey(Preset, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("preset"))
    weekdays = models.JSONField(
        _("weekdays"),
        default=list,
        blank=True,
        help_text=_(
            "Working-hours window: the weekdays (0 = Monday … 6 = Sunday) on which the rule acts. Empty = every day."
        ),
    )
    start_time = models.TimeField(
        _("start time"), null=True, blank=True, help_text=_("Window start (server time zone).")
    )
    end_time = models.TimeField(
        _("end time"), null=True, blank=True, help_text=_("Window end; outside the window nothing happens.")
    )

    class Meta:
        verbose_name = _("event rule")
        verbose_name_plural = _("event rules")
        ordering = ["event"]

    def __str__(self) -> str:
        return self.event

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.event == "heartbeat":
            errors["event"] = gettext(
                "A heartbeat only says the computer is alive; use heartbeat-lost for its absence."
            )
        if self.action == self.Action.PRESET and self.preset is None:
            errors["preset"] = gettext("Choose the preset this event sets.")
        if not isinstance(self.weekdays, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays):
            errors["weekdays"] = gettext("A list of weekday numbers, 0 = Monday … 6 = Sunday, e.g. [0, 1, 2, 3, 4].")
        elif len(set(self.weekdays)) != len(self.weekdays):
            errors["weekdays"] = gettext("Each weekday once.")
        if (self.start_time is None) != (self.end_time is None):
            errors["end_time"] = gettext("Give both the start and the end of the window, or neither.")
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def accepts(name: str) -> bool:
        """Whether computers may post this event: a built-in one, or a custom event that has a rule.

        heartbeat-lost is the service's own event; computers may not post it.
        """
        if name in BUILTIN_EVENTS:
            return True
        return name not in RULE_EVENTS and EventRule.objects.filter(event=name).exists()

    @staticmethod
    def accepted_text() -> str:
        return ", ".join(BUILTIN_EVENTS) + " or a custom event defined in the admin"


class OverrideRule(models.Model):
    """ "Don't override": leave a presence alone (or explicitly override it) on some events."""

    class NoteMatch(models.TextChoices):
        ANY = "any", _("Any note")
        CONTAINS = "contains", _("Note contains")
        EXACT = "exact", _("Note is exactly")
        REGEX = "regex", _("Note matches regex")

    class Decision(models.TextChoices):
        PROTECT = "protect", _("Protect (leave it)")
        OVERRIDE = "override", _("Override")

    order = models.PositiveIntegerField(
        _("order"), default=0, help_text=_("Rules are tried in this order; the first match wins.")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    activities = models.JSONField(
        _("activities"),
        default=list,
        help_text=_('Current activities that match, e.g. ["away"] or ["dnd", "busy"]; "" is available.'),
    )
    note_match = models.CharField(_("note match"), max_length=16, choices=NoteMatch.choices, default=NoteMatch.ANY)
    note_pattern = models.CharField(_("note pattern"), max_length=255, blank=True, help_text=_("Case-insensitive."))
    events = models.JSONField(
        _("events"), default=list, blank=True, help_text=_("Events it applies to; empty = every event.")
    )
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices, default=Decision.PROTECT)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("override rule")
        verbose_name_plural = _("override rules")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name or gettext("rule %(id)s") % {"id": self.pk}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not isinstance(self.activities, list) or not self.activities:
            errors["activities"] = gettext('List the activities this rule matches, e.g. ["away"] ("" is available).')
        else:
            for activity in self.activities:
                try:
                    activity_validator(activity if isinstance(activity, str) else None)
                except (ValidationError, TypeError):
                    errors["activities"] = gettext("%(value)s is not an activity (lower-case, e.g. away, dnd).") % {
                        "value": repr(activity)
                    }
        if not isinstance(self.events, list) or any(not isinstance(e, str) for e in self.events):
            errors["events"] = gettext('A list of event names, e.g. ["shutdown"]; empty = every event.')
        if self.note_match != self.NoteMatch.ANY and not self.note_pattern:
            errors["note_pattern"] = gettext("Give the text (or regular expression) the note is matched against.")
        if self.note_match == self.NoteMatch.REGEX:
            problem = regex_error(self.note_pattern)  # the matcher the engine uses (RE2), not Python's re
            if problem:
                errors["note_pattern"] = gettext("Not a regular expression the rules can use: %(problem)s.") % {
                    "problem": problem
                }
        if errors:
            raise ValidationError(errors)


_settings_memo: dict[str, tuple[float, ServiceSettings]] = {}


class ServiceSettings(models.Model):
    """The admin's settings (one row). Read through `ServiceSettings.current()`, cached briefly."""

    CACHE_KEY = "presence:service-settings"

    strip_domain = models.BooleanField(
        _("strip the domain"),
        default=True,
        help_text=_(r"Match CORP\alice and alice@corp.example to the login name alice when no e-mail matches."),
    )
    manual_wins = models.BooleanField(
        _("manual wins"),
        default=True,
        help_text=_("A presence the user set by hand after our last change is kept until their next logon."),
    )
    debounce_seconds = models.PositiveIntegerField(
        _("debounce seconds"),
        default=0,
        validators=[MaxValueValidator(600)],
        help_text=_("A lock followed by an unlock within this many seconds sends nothing (0 = off)."),
    )
    heartbeat_timeout_minutes = models.PositiveIntegerField(
        _("heartbeat timeout minutes"),
        default=0,
        validators=[MaxValueValidator(MAX_HEARTBEAT_TIMEOUT_MINUTES)],
        help_text=_(
            "When all of a user's devices stop posting heartbeats for longer than this, the "
            "heartbeat-lost rule fires once (0 = off, at most 1440 = a day)."
        ),
    )
    device_window_hours = models.PositiveIntegerField(
        _("who is on a computer: look back (hours)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 7)],
        help_text=_(
            "A computer-level event (shutdown, startup, sleep or resume sent with only a device) goes to each "
            "user whose newest trigger from that computer within this many hours was not a logoff or shutdown."
        ),
    )
    restore_fallback = models.ForeignKey(
        Preset,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("when there is nothing to restore"),
        help_text=_(
            "What unlock sets when the lock saved nothing (it did not know the presence then) but the PBX "
            "still shows the lock's presence. Empty = available with no note."
        ),
    )
    offer_user_page = models.BooleanField(
        _("offer the user page"), default=True, help_text=_("Offer users the page with preset buttons.")
    )
    key_rotation_days = models.PositiveIntegerField(
        _("key rotation days"),
        default=180,
        validators=[MinValueValidator(1)],
        help_text=_("API keys older than this are flagged in the admin."),
    )
    trigger_retention_days = models.PositiveIntegerField(
        _("trigger retention days"),
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_("The trigger log keeps this many days (manage.py prunetriggers)."),
    )

    class Meta:
        verbose_name = verbose_name_plural = _("settings")

    def __str__(self) -> str:
        return gettext("Settings")

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        _settings_memo.clear()
        with contextlib.suppress(Exception):
            cache.delete(self.CACHE_KEY)

    @classmethod
    def current(cls) -> ServiceSettings:
        local = _settings_memo.get("current")
        if local is not None and time.monotonic() - local[0] < 2.0:
            return local[1]  # asked on every trigger: no cache round trip more than every 2 s
        try:
            found = cache.get(cls.CACHE_KEY)
        except Exception:  # the cache (Redis) is down: the database answers
            found = None
        if found is None:
            found, _ = cls.objects.get_or_create(pk=1)
            with contextlib.suppress(Exception):
                cache.set(cls.CACHE_KEY, found, 5)
        _settings_memo["current"] = (time.monotonic(), found)
        return found


class UserState(models.Model):
    """What the engine remembers about one user between triggers."""

    user = models.OneToOneField(PbxUser, on_delete=models.CASCADE, related_name="state", primary_key=True)
    # What this service set last on the PBX.
    set_activity = models.CharField(max_length=32, blank=True)
    set_note = models.CharField(max_length=255, blank=True)
    set_at = models.DateTimeField(null=True, blank=True)
    # What set it: the event whose preset it is, or restore / fallback / button / manual (presence.engine).
    set_by = models.CharField(max_length=64, blank=True)
    # The `at` of the newest trigger that was decided for this user: older ones never win.
    last_event_at = models.DateTimeField(null=True, blank=True)
    # The presence a lock replaced, for restore on unlock.
    saved = models.JSONField(null=True, blank=True)
    # The user changed presence by hand after our last change (manual wins until the next logon).
    manual_since = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_lost_fired = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"state of {self.user}"


class LinkStatus(models.Model):
    """The PBX link's lease and state (one row), written by the link holder, read by web processes.

    The lease makes sure exactly one `runpbxlink` holds the PBX link at a time: the holder renews
    `lease_until` every few seconds; when it dies, another worker takes the expired lease over.
    """

    holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    connected = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True, help_text=_("Connected (or disconnected) since."))
    last_error = models.CharField(max_length=500, blank=True)
    reconnects = models.PositiveIntegerField(default=0)
    subscriptions = models.PositiveIntegerField(default=0)
    # Subscribed users whose presence the PBX reported on this connection (their triggers need not wait).
    reported = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    directory_synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = _("PBX link status")

    def __str__(self) -> str:
        return gettext("PBX link")

    @classmethod
    def current(cls) -> LinkStatus:
        found, _ = cls.objects.get_or_create(pk=1)
        return found

    def snapshot(self, now: dt.datetime | None = None) -> dict:
        """JSON for /healthz and the admin: a holder whose lease ran out counts as no holder."""
        now = now or timezone.now()
        alive = bool(self.holder and self.lease_until and self.lease_until > now)
        return {
            "worker": "running" if alive else "not running",
            "holder": self.holder if alive else "",
            "connected": bool(alive and self.connected),
            "since": self.since.isoformat() if self.since else None,
            "last_error": self.last_error,
            "reconnects": self.reconnects,
            "subscriptions": self.subscriptions if alive else 0,
            "reported": self.reported if alive else 0,
            "in_flight": self.in_flight if alive else 0,
            "directory_synced_at": self.directory_synced_at.isoformat() if self.directory_synced_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


class AccountLink(models.Model):
    """A Django account that belongs to a PBX user, and which sign-in created it.

    Sign-ins that someone else vouches for (a proxy's `Remote-User` header, the PBX for a myApps app)
    may only enter accounts listed here: never an account made by hand, a staff member or a superuser
    that nobody linked.
    """

    class Origin(models.TextChoices):
        SSO = "sso", _("Proxy single sign-on")
        MYAPPS_ADMIN = "myapps-admin", _("myApps admin app")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pbx_link")
    pbx_guid = models.CharField(
        _("PBX user GUID"),
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("Empty until the name matches a PBX user."),
    )
    origin = models.CharField(max_length=16, choices=Origin.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_origin_display()})"
