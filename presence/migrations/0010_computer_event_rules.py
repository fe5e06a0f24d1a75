"""Rules for the computer-level events, so that they do something useful before anyone configures them:
sleep → away "Computer asleep since {time}", resume → restore, startup → nothing (shutdown has its rule
since 0002). Like 0002: creates only what is missing (by preset name / event), reverse is a no-op.
"""

from django.db import migrations

ASLEEP = "Away – computer asleep"

# event, action, preset name
EVENT_RULES = [
    ("sleep", "preset", ASLEEP),
    ("resume", "restore", None),
    ("startup", "nothing", None),
]


def create_defaults(apps, schema_editor):
    Preset = apps.get_model("presence", "Preset")
    EventRule = apps.get_model("presence", "EventRule")
    asleep, _ = Preset.objects.get_or_create(
        name=ASLEEP,
        defaults={
            "activity": "away",
            "note": "Computer asleep since {time}",
            "color": "#ffd063",
            "show_on_user_page": False,
            "order": 90,
        },
    )
    for event, action, preset in EVENT_RULES:
        EventRule.objects.get_or_create(event=event, defaults={"action": action, "preset": asleep if preset else None})


class Migration(migrations.Migration):
    dependencies = [("presence", "0009_device_window")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
