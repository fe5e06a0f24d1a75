"""Fill `computer` for the triggers of the last week, so that a device-only trigger finds the users who
were on its computer before this version ran (newer rows get it when they are accepted).

One UPDATE in SQL (the log may hold millions of rows); only API triggers name a device. SQLite's
lower() folds ASCII letters only: a non-ASCII computer name of an old row may not match until that
user's next trigger. Its reverse is a no-op: the column goes with the schema migration before it.
"""

import datetime as dt

from django.db import migrations
from django.db.models import Case, F, Value, When
from django.db.models.functions import Lower, StrIndex, Substr, Trim
from django.utils import timezone

WEEK = dt.timedelta(days=7)


def fill(apps, schema_editor):
    Trigger = apps.get_model("triggers", "Trigger")
    computer = Case(
        When(device__contains="/", then=Substr("device", 1, StrIndex("device", Value("/")) - 1)),
        default=F("device"),
    )
    recent = Trigger.objects.filter(received_at__gte=timezone.now() - WEEK, source="api").exclude(device="")
    recent.update(computer=Lower(Trim(computer)))


class Migration(migrations.Migration):
    dependencies = [("triggers", "0003_device_triggers")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
