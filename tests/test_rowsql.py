"""Rows written with SQL built once: they must read back exactly as the ORM would have written them."""

from __future__ import annotations

import datetime as dt

import pytest

from heartbeat_site.helpers.rowsql import update_rows
from triggers.models import Trigger

pytestmark = pytest.mark.django_db


def test_update_rows_writes_each_objects_own_values(alice):
    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    first, second = (Trigger.objects.create(user_value="alice", event="lock", at=at) for _ in range(2))
    first.status, first.decision = "applied", {"after": {"activity": "away"}}
    second.status, second.decision = "skipped", {"rule": "manual wins"}
    assert update_rows(Trigger, ["status", "decision"], [first, second]) == 2
    assert dict(Trigger.objects.values_list("pk", "status")) == {first.pk: "applied", second.pk: "skipped"}
    assert Trigger.objects.get(pk=first.pk).decision == {"after": {"activity": "away"}}


def test_update_rows_writes_nulls_dates_and_an_all_null_column(alice):
    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    first, second = (Trigger.objects.create(user_value="alice", event="lock", at=at, decided_at=at) for _ in range(2))
    first.applied_at, first.decided_at = at + dt.timedelta(seconds=1), None
    second.applied_at, second.decided_at = None, None
    update_rows(Trigger, ["applied_at", "decided_at"], [first, second])
    rows = {pk: (a, d) for pk, a, d in Trigger.objects.values_list("pk", "applied_at", "decided_at")}
    assert rows == {first.pk: (at + dt.timedelta(seconds=1), None), second.pk: (None, None)}


def test_update_rows_keeps_the_last_values_for_a_repeated_object(alice):
    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    trigger = Trigger.objects.create(user_value="alice", event="lock", at=at)
    early, late = Trigger(pk=trigger.pk, status="superseded"), Trigger(pk=trigger.pk, status="applied")
    assert update_rows(Trigger, ["status"], [early, late]) == 1
    assert Trigger.objects.get(pk=trigger.pk).status == "applied"


def test_update_rows_leaves_other_rows_and_columns_alone(alice):
    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    changed, untouched = (Trigger.objects.create(user_value="alice", event="lock", at=at) for _ in range(2))
    changed.status, changed.event = "applied", "unlock"  # event is not among the fields written
    update_rows(Trigger, ["status"], [changed])
    assert dict(Trigger.objects.values_list("pk", "status")) == {changed.pk: "applied", untouched.pk: "queued"}
    assert Trigger.objects.get(pk=changed.pk).event == "lock"


def test_columns_build_instances_like_a_queryset_and_defer_the_rest(alice):
    from django.db import connection

    from heartbeat_site.helpers.rowsql import Columns
    from presence.models import PbxUser

    at = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    alice.presence, alice.presence_at, alice.active = [{"activity": "away"}], at, True
    alice.save()
    columns = Columns(PbxUser, "u", ["id", "guid", "presence", "presence_at", "active"])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns.select()} FROM {PbxUser._meta.db_table} u")  # noqa: S608
        user = columns.build(cursor.fetchone())
    assert (user.pk, user.guid, user.presence, user.presence_at, user.active) == (
        alice.pk,
        alice.guid,
        [{"activity": "away"}],
        at,
        True,
    )
    assert "h323" in user.get_deferred_fields() and user.h323 == "alice"  # loaded on access
