"""The admin for keys and the trigger log: keys shown once, log read-only and without COUNT(*)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from triggers.models import ApiKey, Trigger

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(admin_client):
    response = admin_client.post("/admin/triggers/apikey/add/", {"name": "GPO", "expires_at_0": "", "expires_at_1": ""})
    assert response.status_code == 200
    clear = re.search(r"phk_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    assert "no-store" in response["Cache-Control"]
    row = ApiKey.objects.get(name="GPO")
    assert row.key_hash != clear and clear.startswith(f"phk_{row.prefix}_")
    page = admin_client.get(f"/admin/triggers/apikey/{row.pk}/change/").content.decode()
    assert clear not in page and f"phk_{row.prefix}_" in page


def test_rotating_in_the_admin_shows_the_new_key_once(admin_client):
    row, old = ApiKey.create("GPO")
    response = admin_client.post(f"/admin/triggers/apikey/{row.pk}/rotate/", {"grace_hours": 48})
    new = re.search(r"phk_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    row.refresh_from_db()
    assert new != old and row.state == "rotating" and row.previous_prefix == old.split("_")[1]


def test_revoking_in_the_admin_stops_the_key(admin_client):
    row, _ = ApiKey.create("GPO")
    admin_client.post(f"/admin/triggers/apikey/{row.pk}/revoke/")
    row.refresh_from_db()
    assert row.state == "revoked"


def test_the_trigger_log_lists_filters_and_never_counts_the_whole_table(admin_client, alice):
    for n in range(30):
        Trigger.objects.create(
            user_value="alice",
            pbx_user=alice,
            event="lock",
            at=alice.created_at,
            status="failed" if n % 3 else "applied",
        )
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/triggers/trigger/?status__exact=failed")
    assert response.status_code == 200
    assert response.content.decode().count('class="field-id"') == 20
    unbounded = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "LIMIT" not in q["sql"].upper()]
    assert unbounded == []


def test_the_trigger_log_is_read_only(admin_client, alice):
    row = Trigger.objects.create(user_value="alice", pbx_user=alice, event="lock", at=alice.created_at)
    assert admin_client.get("/admin/triggers/trigger/add/").status_code == 403
    response = admin_client.post(f"/admin/triggers/trigger/{row.pk}/change/", {"status": "applied"})
    row.refresh_from_db()
    assert row.status == "queued" and response.status_code in (403, 200)
    assert admin_client.post(f"/admin/triggers/trigger/{row.pk}/delete/").status_code == 403


def test_a_trigger_page_says_why_the_presence_is_what_it_is(admin_client, alice):
    row = Trigger.objects.create(
        user_value="alice",
        pbx_user=alice,
        event="lock",
        at=alice.created_at,
        status="applied",
        decision={
            "rule": "event rule lock → preset 'Away – screen locked'",
            "preset": "Away – screen locked",
            "before": {"activity": "busy", "note": "Report"},
            "after": {"activity": "away", "note": "Screen locked since 08:01"},
        },
    )
    page = admin_client.get(f"/admin/triggers/trigger/{row.pk}/change/").content.decode()
    assert "event rule lock → preset" in page
    assert "busy “Report”" in page and "away “Screen locked since 08:01”" in page


def test_a_pbx_users_page_shows_their_timeline(admin_client, alice):
    Trigger.objects.create(
        user_value="alice",
        pbx_user=alice,
        event="lock",
        at=alice.created_at,
        status="skipped",
        reason="protected: holiday",
    )
    page = admin_client.get(f"/admin/presence/pbxuser/{alice.pk}/change/").content.decode()
    assert "protected: holiday" in page and f"pbx_user__id__exact={alice.pk}" in page
    listing = admin_client.get(f"/admin/triggers/trigger/?pbx_user__id__exact={alice.pk}")
    assert listing.status_code == 200 and "protected: holiday" in listing.content.decode()


# --- computer-level triggers -------------------------------------------------------------------------------


def handed_out_shutdown(alice, bob) -> tuple[Trigger, list[Trigger]]:
    """A device-only shutdown of TS-01 handed to alice (applied) and bob (protected)."""
    at = alice.created_at
    device = Trigger.objects.create(
        event="shutdown",
        at=at,
        device="TS-01",
        computer="ts-01",
        status="dispatched",
        reason="for 2 user(s) on this device: alice, bob",
    )
    made = [
        Trigger.objects.create(
            parent=device,
            user_value=user.h323,
            pbx_user=user,
            event="shutdown",
            at=at,
            device="TS-01",
            computer="ts-01",
            status=status,
            reason=reason,
            decision={"after": after} if after else {},
        )
        for user, status, reason, after in (
            (alice, "applied", "", {"activity": "away", "note": "Computer off since 18:00"}),
            (bob, "skipped", "protected: holiday", None),
        )
    ]
    return device, made


def test_a_computer_level_trigger_shows_the_decision_it_produced_for_each_user(admin_client, alice, make_user):
    device, (for_alice, for_bob) = handed_out_shutdown(alice, make_user("bob"))
    page = admin_client.get(f"/admin/triggers/trigger/{device.pk}/change/").content.decode()
    assert page.count('class="handed-out"') == 2
    assert f"/admin/triggers/trigger/{for_alice.pk}/change/" in page and "away “Computer off since 18:00”" in page
    assert f"/admin/triggers/trigger/{for_bob.pk}/change/" in page and "protected: holiday" in page
    child = admin_client.get(f"/admin/triggers/trigger/{for_bob.pk}/change/").content.decode()
    assert f'href="/admin/triggers/trigger/{device.pk}/change/"' in child


def test_a_computer_level_trigger_shows_each_users_status_and_reason_in_the_readers_language(
    admin_client, alice, make_user
):
    device, _made = handed_out_shutdown(alice, make_user("bob"))
    page = admin_client.get(
        f"/admin/triggers/trigger/{device.pk}/change/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9"
    ).content.decode()
    rows = "".join(re.findall(r'<tr class="handed-out">.*?</tr>', page))
    assert "Angewendet" in rows and "Übersprungen" in rows
    assert "geschützt: holiday" in rows
    assert "skipped" not in rows and "applied" not in rows and "protected" not in rows


def test_the_trigger_log_filters_computer_level_triggers_and_their_hand_outs(admin_client, alice, make_user):
    device, made = handed_out_shutdown(alice, make_user("bob"))
    Trigger.objects.create(user_value="alice", pbx_user=alice, event="lock", at=alice.created_at)

    def ids(scope: str) -> set[int]:
        page = admin_client.get(f"/admin/triggers/trigger/?scope={scope}").content.decode()
        return {int(n) for n in re.findall(r"/admin/triggers/trigger/(\d+)/change/", page)}

    assert ids("device") == {device.pk}
    assert ids("handed-out") == {t.pk for t in made}
    listing = admin_client.get("/admin/triggers/trigger/?scope=device").content.decode()
    assert "users on this device" in listing and "dispatched" in listing


def test_a_pbx_users_page_lists_the_devices_seen_with_their_last_event(admin_client, alice):
    base = alice.created_at
    for minutes, event, device in (
        (0, "logon", "TS-01/RDP-Tcp#3"),
        (5, "lock", "ts-01/RDP-Tcp#7"),
        (9, "unlock", "PC-7"),
    ):
        Trigger.objects.create(
            user_value="alice",
            pbx_user=alice,
            event=event,
            at=base + dt.timedelta(minutes=minutes),
            device=device,
            computer=device.split("/")[0].lower(),
            status="applied",
        )
    page = admin_client.get(f"/admin/presence/pbxuser/{alice.pk}/change/").content.decode()
    rows = re.findall(r'<tr class="device"><td>(.*?)</td><td>(.*?)</td>', page)
    assert rows == [("PC-7", "unlock"), ("ts-01/RDP-Tcp#7", "lock")]
