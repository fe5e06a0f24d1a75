"""Sensible defaults, so that a fresh installation does something useful before anyone configures it.

Idempotent (rows that already exist by name / event are left alone) and its reverse is a no-op: by the
time anyone migrates back, the admin has probably edited these rows, and deleting them would lose work.
"""

from django.db import migrations

AVAILABLE, AWAY, BUSY, DND = "#badb8c", "#ffd063", "#ff918f", "#cb8cdb"

# name, activity, note, colour, button on the user page, order
PRESETS = [
    ("Available", "", "", AVAILABLE, True, 10),
    ("Away", "away", "", AWAY, True, 20),
    ("Busy", "busy", "", BUSY, True, 30),
    ("Do not disturb", "dnd", "", DND, True, 40),
    # "away" rather than RFC 4480 "lunch": myApps and the phones colour only available/away/busy/dnd.
    ("Lunch", "away", "At lunch", AWAY, True, 50),
    ("Away – screen locked", "away", "Screen locked since {time}", AWAY, False, 60),
    ("Away – logged off", "away", "Logged off", AWAY, False, 70),
    ("Offline – shut down", "away", "Computer off since {date} {time}", AWAY, False, 80),
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


def create_defaults(apps, schema_editor):
    Preset = apps.get_model("presence", "Preset")
    EventRule = apps.get_model("presence", "EventRule")
    OverrideRule = apps.get_model("presence", "OverrideRule")
    ServiceSettings = apps.get_model("presence", "ServiceSettings")

    presets = {}
    for name, activity, note, color, button, order in PRESETS:
        presets[name], _ = Preset.objects.get_or_create(
            name=name,
            defaults={"activity": activity, "note": note, "color": color, "show_on_user_page": button, "order": order},
        )
    for event, action, preset in EVENT_RULES:
        EventRule.objects.get_or_create(
            event=event, defaults={"action": action, "preset": presets[preset] if preset else None}
        )
    if not OverrideRule.objects.filter(name="holiday").exists():
        OverrideRule.objects.create(
            order=10,
            name="holiday",
            activities=["away"],
            note_match="contains",
            note_pattern="holiday",
            events=[],
            decision="protect",
        )
    # The historical model has no custom save(): name the one row explicitly.
    ServiceSettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    # After the link-status schema migration (written at the same time), so that the graph has one leaf.
    dependencies = [("presence", "0001_initial"), ("presence", "0002_link_status")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
