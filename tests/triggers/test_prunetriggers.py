"""prunetriggers keeps the log within the retention period and never drops queued work."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from presence.models import ServiceSettings
from triggers.models import Trigger

pytestmark = pytest.mark.django_db


def test_it_deletes_what_is_older_than_the_retention_but_keeps_queued(alice):
    settings_row = ServiceSettings.current()
    settings_row.trigger_retention_days = 30
    settings_row.save()
    old = timezone.now() - dt.timedelta(days=31)
    Trigger.objects.create(user_value="a", event="lock", at=old, received_at=old, status="applied")
    Trigger.objects.create(user_value="a", event="lock", at=old, received_at=old, status="queued")
    recent = Trigger.objects.create(user_value="a", event="lock", at=timezone.now(), status="applied")
    call_command("prunetriggers", batch=1)
    assert set(Trigger.objects.values_list("status", flat=True)) == {"queued", "applied"}
    assert Trigger.objects.filter(pk=recent.pk).exists() and Trigger.objects.count() == 2
