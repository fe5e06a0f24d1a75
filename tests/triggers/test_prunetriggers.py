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


def test_it_prunes_a_computer_level_trigger_and_keeps_its_users_queued_trigger_without_the_link(alice, make_user):
    bob = make_user("bob")
    old = timezone.now() - dt.timedelta(days=100)
    device = Trigger.objects.create(event="shutdown", at=old, received_at=old, device="TS-01", status="dispatched")
    done = Trigger.objects.create(
        parent=device, user_value="alice", pbx_user=alice, event="shutdown", at=old, received_at=old, status="applied"
    )
    waiting = Trigger.objects.create(
        parent=device, user_value="bob", pbx_user=bob, event="shutdown", at=old, received_at=old, status="queued"
    )
    call_command("prunetriggers", batch=1)
    assert list(Trigger.objects.values_list("pk", "parent_id")) == [(waiting.pk, None)]
    assert not Trigger.objects.filter(pk__in=[device.pk, done.pk]).exists()
