"""Rules for the computer-level events, so that they do something useful before anyone configures them:
sleep → away "Computer asleep since {time}", resume → restore, startup → nothing (shutdown has its rule
since 0002). Like 0002: creates only what is missing (by preset name / event), reverse is a no-op, and
the preset's name and note are written in the installation's LANGUAGE_CODE language.
"""

from django.conf import settings
from django.db import migrations
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

ASLEEP = gettext_noop("Away – computer asleep")
ASLEEP_NOTE = gettext_noop("Computer asleep since {time}")

# event, action, uses the asleep preset
EVENT_RULES = [
    ("sleep", "preset", True),
    ("resume", "restore", False),
    ("startup", "nothing", False),
]


def create_defaults(apps, schema_editor):
    with translation.override(settings.LANGUAGE_CODE):
        _create_defaults(apps)


def _create_defaults(apps):
    Preset = apps.get_model("presence", "Preset")
    EventRule = apps.get_model("presence", "EventRule")
    asleep, _ = Preset.objects.get_or_create(
        name=gettext(ASLEEP),
        defaults={
            "activity": "away",
            "note": gettext(ASLEEP_NOTE),
            "color": "#ffd063",
            "show_on_user_page": False,
            "order": 90,
        },
    )
    for event, action, uses_asleep in EVENT_RULES:
        EventRule.objects.get_or_create(
            event=event, defaults={"action": action, "preset": asleep if uses_asleep else None}
        )


class Migration(migrations.Migration):
    dependencies = [("presence", "0009_device_window")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
