"""API keys: hash-only storage, rotation with a grace window, revocation, usage tracking."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from triggers.auth import flush_key_uses
from triggers.models import ApiKey, Trigger

pytestmark = pytest.mark.django_db
URL = "/api/v1/triggers"


def send(client, key):
    return client.post(
        URL,
        data=json.dumps({"user": "alice", "event": "lock"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def database_dump() -> str:
    """Every value in every table, as text: the clear key must not be anywhere in it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (table names come from introspection)
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_the_clear_key_is_nowhere_in_the_database(api_client, alice):
    row, clear = ApiKey.create("GPO")
    assert send(api_client, clear).status_code == 202
    dump = database_dump()
    secret_part = clear.split("_", 2)[2]
    assert clear not in dump and secret_part not in dump
    assert row.prefix in dump  # only the lookup prefix and the HMAC are stored


def test_the_stored_hash_depends_on_the_pepper(settings):
    row, clear = ApiKey.create("GPO")
    from triggers.models import hash_key

    settings.API_KEY_PEPPER = "another-pepper-value-entirely"
    assert hash_key(clear) != row.key_hash


def test_last_used_and_count_are_updated(api_client, alice):
    row, clear = ApiKey.create("GPO")
    before = timezone.now()
    send(api_client, clear)
    send(api_client, clear)
    flush_key_uses()  # uses are written at most once a second per process
    row.refresh_from_db()
    assert row.use_count == 2 and row.last_used_at >= before


def test_rotation_keeps_the_old_key_working_during_the_grace_period(api_client, alice):
    row, old = ApiKey.create("GPO")
    new = row.rotate(dt.timedelta(hours=24))
    assert new != old
    assert send(api_client, old).status_code == 202
    assert send(api_client, new).status_code == 202
    assert row.state == "rotating"


def test_rotation_grace_ends(api_client, alice):
    row, old = ApiKey.create("GPO")
    new = row.rotate(dt.timedelta(hours=24))
    row.previous_valid_until = timezone.now() - dt.timedelta(seconds=1)
    row.save()
    response = send(api_client, old)
    assert response.status_code == 401 and "grace period has ended" in response.json()["detail"]
    assert send(api_client, new).status_code == 202


def test_rotation_without_grace_stops_the_old_key_at_once(api_client, alice):
    row, old = ApiKey.create("GPO")
    row.rotate(dt.timedelta(0))
    assert send(api_client, old).status_code == 401


def test_a_revoked_key_is_refused_even_in_its_grace_window(api_client, alice):
    row, old = ApiKey.create("GPO")
    new = row.rotate(dt.timedelta(hours=24))
    row.revoke()
    assert send(api_client, old).status_code == 401
    assert send(api_client, new).status_code == 401
    assert not Trigger.objects.exists()


def test_old_keys_are_flagged_for_rotation():
    row, _ = ApiKey.create("GPO")
    assert not row.is_due_for_rotation(180)
    row.created_at = timezone.now() - dt.timedelta(days=181)
    assert row.is_due_for_rotation(180)


def test_createapikey_prints_a_working_key_once(api_client, alice, capsys):
    call_command("createapikey", "Task Scheduler")
    out = capsys.readouterr()
    clear = out.out.strip()
    assert clear.startswith("phk_") and "shown only this once" in out.err
    assert send(api_client, clear).status_code == 202


def test_createapikey_refuses_a_duplicate_name():
    from django.core.management.base import CommandError

    ApiKey.create("GPO")
    with pytest.raises(CommandError, match="exists already"):
        call_command("createapikey", "GPO")
