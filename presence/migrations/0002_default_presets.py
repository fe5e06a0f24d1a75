"""Sensible defaults, so that a fresh installation does something useful before anyone configures it.

Idempotent (rows that already exist by name / event are left alone) and its reverse is a no-op: by the
time anyone migrates back, the admin has probably edited these rows, and deleting them would lose work.

Names and notes are the administrator's own text from then on (never translated again); a new
installation writes them in its LANGUAGE_CODE's language ("Abwesend – Bildschirm gesperrt", "Bildschirm
gesperrt seit {time}" in German), from the project's catalogue. An installation migrated before it
spoke German keeps what it has.
"""

from django.conf import settings
from django.db import migrations
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

AVAILABLE, AWAY, BUSY, DND = "#badb8c", "#ffd063", "#ff918f", "#cb8cdb"

# name, activity, note, colour, button on the user page, order (names and notes in English: the msgids)
PRESETS = [
    (gettext_noop("Available"), "", "", AVAILABLE, True, 10),
    (gettext_noop("Away"), "away", "", AWAY, True, 20),
    (gettext_noop("Busy"), "busy", "", BUSY, True, 30),
    (gettext_noop("Do not disturb"), "dnd", "", DND, True, 40),
    # "away" rather than RFC 4480 "lunch": myApps and the phones colour only available/away/busy/dnd.
    (gettext_noop("Lunch"), "away", gettext_noop("At lunch"), AWAY, True, 50),
    (gettext_noop("Away – screen locked"), "away", gettext_noop("Screen locked since {time}"), AWAY, False, 60),
    (gettext_noop("Away – logged off"), "away", gettext_noop("Logged off"), AWAY, False, 70),
    (
        gettext_noop("Offline – shut down"),
        "away",
        gettext_noop("Computer off since {date} {time}"),
        AWAY,
        False,
        80,
    ),
]

# event, action, preset name
EVENT_RULES = [
    ("logon", "preset", "Available"),
    ("unlock", "restore", None),
    ("lock", "preset", "Away – screen locked"),
    ("logoff", "preset", "Away – logged off"),
    ("shutdown", "preset", "Offline – shut down"),
    ("heartbeat-lost", "preset", "Offline – shut down"),
]
# The override rule that keeps a holiday presence (its name and the note text it looks for).
HOLIDAY = gettext_noop("holiday")


def create_defaults(apps, schema_editor):
    with translation.override(settings.LANGUAGE_CODE):
        _create_defaults(apps)


def _create_defaults(apps):
    Preset = apps.get_model("presence", "Preset")
    EventRule = apps.get_model("presence", "EventRule")
    OverrideRule = apps.get_model("presence", "OverrideRule")
    ServiceSettings = apps.get_model("presence", "ServiceSettings")

    presets = {}
    for name, activity, note, color, button, order in PRESETS:
        presets[name], _ = Preset.objects.get_or_create(
            name=gettext(name),
            defaults={
                "activity": activity,
                "note": gettext(note) if note else "",
                "color": color,
                "show_on_user_page": button,
                "order": order,
            },
        )
    for event, action, preset in EVENT_RULES:
        EventRule.objects.get_or_create(
            event=event, defaults={"action": action, "preset": presets[preset] if preset else None}
        )
    holiday = gettext(HOLIDAY)
    if not OverrideRule.objects.filter(name=holiday).exists():
        OverrideRule.objects.create(
            order=10,
            name=holiday,
            activities=["away"],
            note_match="contains",
            note_pattern=holiday,
            events=[],
            decision="protect",
        )
    # The historical model has no custom save(): name the one row explicitly.
    ServiceSettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    # After the link-status schema migration (written at the same time), so that the graph has one leaf.
    dependencies = [("presence", "0001_initial"), ("presence", "0002_link_status")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
