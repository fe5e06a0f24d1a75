"""Computer-level events sent with only a device: accepted at once, handed to the users on that device by
the link worker's round, each user's trigger decided like any other."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from presence.link import store
from presence.models import ServiceSettings, UserState
from triggers import queue
from triggers.models import Trigger

URL = "/api/v1/triggers"
pytestmark = pytest.mark.django_db


class _Everyone:
    """`known`: the PBX has reported everybody's presence (these tests are about who, not when)."""

    def __contains__(self, guid: object) -> bool:
        return True


EVERYONE = _Everyone()


def post(client, auth, body: dict, **extra):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **auth, **extra)


def seen(user, event: str, device: str, minutes_ago: float, status: str = "skipped") -> Trigger:
    """A trigger of `user` from `device` some minutes ago, already decided (it only says where they were)."""
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return Trigger.objects.create(
        event=event,
        at=at,
        received_at=at,
        user_value=user.h323,
        pbx_user=user,
        device=device,
        computer=device.split("/")[0].lower(),
        status=status,
    )


def device_event(api_client, auth, event: str, device: str, **body) -> Trigger:
    response = post(api_client, auth, {"event": event, "device": device, **body})
    assert response.status_code == 202, response.content
    return Trigger.objects.get(pk=response.json()["id"])


def hand_out() -> None:
    """One worker round: device-only triggers become per-user triggers (decided in the next round)."""
    store.plan_round(set(), EVERYONE)


def children(parent: Trigger) -> dict[str, Trigger]:
    return {t.pbx_user.h323: t for t in Trigger.objects.filter(parent=parent).select_related("pbx_user")}


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


# --- the API ---------------------------------------------------------------------------------------


def test_it_accepts_a_device_only_shutdown_at_once_and_resolves_nobody_yet(api_client, auth, alice):
    response = post(api_client, auth, {"event": "shutdown", "device": "TS-01"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["event"] == "shutdown" and body["device"] == "TS-01"
    assert "user" not in body
    row = Trigger.objects.get(pk=body["id"])
    assert (row.pbx_user, row.user_value, row.computer, row.status) == (None, "", "ts-01", "queued")
    assert row.for_device_only


@pytest.mark.parametrize("event", ["shutdown", "startup", "sleep", "resume"])
def test_it_accepts_each_computer_level_event_without_a_user(api_client, auth, event):
    assert post(api_client, auth, {"event": event, "device": "PC-7"}).status_code == 202


def test_a_user_trigger_without_a_user_is_still_refused(api_client, auth):
    response = post(api_client, auth, {"event": "lock", "device": "PC-7"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"user": ["This field is required."]}
    assert not Trigger.objects.filter(status="queued").exists()


def test_a_device_only_event_must_name_the_device(api_client, auth):
    response = post(api_client, auth, {"event": "shutdown", "device": "  "})
    assert response.status_code == 400
    assert "device" in response.json()["fields"]
    assert not Trigger.objects.filter(status="queued").exists()


@pytest.mark.no_licence
def test_a_device_only_event_is_refused_without_a_valid_licence(api_client, auth):
    response = post(api_client, auth, {"event": "shutdown", "device": "PC-7"})
    assert response.status_code == 403 and response.json()["error"] == "licence_expired"
    assert list(Trigger.objects.values_list("status", "device")) == [("refused", "PC-7")]


def test_a_repeated_device_only_event_is_one_trigger_handed_out_once(api_client, auth, alice):
    seen(alice, "logon", "TS-01/RDP-Tcp#1", 30)
    first = post(api_client, auth, {"event": "shutdown", "device": "TS-01"}, HTTP_IDEMPOTENCY_KEY="boot-42")
    hand_out()
    again = post(api_client, auth, {"event": "shutdown", "device": "TS-01"}, HTTP_IDEMPOTENCY_KEY="boot-42")
    hand_out()
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "dispatched"
    assert Trigger.objects.filter(event="shutdown", parent__isnull=True).count() == 1
    assert Trigger.objects.filter(event="shutdown", parent__isnull=False).count() == 1


# --- who is on the device (the worker's round) -------------------------------------------------------------


def test_a_shutdown_goes_to_the_one_user_on_the_computer(api_client, auth, alice, bob):
    seen(alice, "unlock", "PC-7", 10)
    seen(bob, "lock", "PC-8", 10)
    device = device_event(api_client, auth, "shutdown", "PC-7")
    hand_out()
    device.refresh_from_db()
    assert (device.status, device.reason) == ("dispatched", "for 1 user(s) on this device: alice")
    child = children(device)["alice"]
    assert (child.event, child.at, child.status, child.device) == ("shutdown", device.at, "queued", "PC-7")
    assert (child.api_key_id, child.key_name, child.client_id) == (device.api_key_id, device.key_name, "")


def test_a_shutdown_of_a_terminal_server_goes_to_everyone_on_it_in_any_session(api_client, auth, alice, bob, carol):
    seen(alice, "logon", "TS-01/RDP-Tcp#3", 120)
    seen(bob, "unlock", "ts-01/RDP-Tcp#9", 5)
    seen(bob, "lock", "TS-01/RDP-Tcp#4", 60)  # an older session of bob's
    seen(carol, "logon", "PC-7", 5)
    device = device_event(api_client, auth, "shutdown", "Ts-01")
    hand_out()
    assert sorted(children(device)) == ["alice", "bob"]
    device.refresh_from_db()
    assert device.status == "dispatched" and device.decision == {"users": ["alice", "bob"]}


def test_a_user_who_logged_off_earlier_is_not_shut_down_again(api_client, auth, alice, bob):
    seen(alice, "logon", "TS-01/RDP-Tcp#3", 120)
    seen(alice, "logoff", "TS-01/RDP-Tcp#3", 30)
    seen(bob, "heartbeat", "TS-01/RDP-Tcp#5", 2)
    device = device_event(api_client, auth, "shutdown", "TS-01")
    hand_out()
    assert sorted(children(device)) == ["bob"]


def test_a_user_seen_on_the_computer_only_before_the_window_is_not_on_it(api_client, auth, alice, bob):
    settings_row = ServiceSettings.current()
    settings_row.device_window_hours = 2
    settings_row.save()
    seen(alice, "logon", "PC-7", 3 * 60)
    seen(bob, "logon", "PC-7", 60)
    device = device_event(api_client, auth, "sleep", "PC-7")
    hand_out()
    assert sorted(children(device)) == ["bob"]


def test_a_trigger_after_the_device_event_does_not_decide_who_was_on_the_computer(api_client, auth, alice):
    seen(alice, "logon", "PC-7", 30)
    at = timezone.now() - dt.timedelta(minutes=10)
    seen(alice, "logoff", "PC-7", 5)  # after the shutdown happened; it does not undo that alice was there
    device = device_event(api_client, auth, "shutdown", "PC-7", at=at.isoformat())
    hand_out()
    assert sorted(children(device)) == ["alice"]


def test_a_refused_trigger_does_not_put_a_user_on_the_computer(api_client, auth, alice):
    seen(alice, "logon", "PC-7", 30, status="refused")
    device = device_event(api_client, auth, "shutdown", "PC-7")
    hand_out()
    device.refresh_from_db()
    assert (device.status, device.reason) == ("skipped", "nobody on this device")


def test_an_unknown_device_is_answered_202_and_logged_nobody_on_this_device(api_client, auth, alice):
    seen(alice, "logon", "PC-7", 30)
    device = device_event(api_client, auth, "shutdown", "PC-404")
    planned = store.plan_round(set(), EVERYONE)
    device.refresh_from_db()
    assert (device.status, device.reason) == ("skipped", "nobody on this device")
    assert device.decided_at is not None and planned.sends == []
    assert not Trigger.objects.filter(parent=device).exists()


# --- each user's trigger goes through the same rules -----------------------------------------------------


def tel(activity: str, note: str) -> list[dict]:
    return [{"contact": "tel:", "status": "open", "activity": activity, "note": note}]


def test_each_users_trigger_is_decided_like_any_other_in_the_next_round(api_client, auth, alice, bob):
    for user in (alice, bob):
        user.presence = tel("", "")
        user.save()
        seen(user, "logon", "TS-01/RDP-Tcp#1", 30)
    device = device_event(api_client, auth, "shutdown", "TS-01")
    first = store.plan_round(set(), EVERYONE)
    assert first.sends == [] and first.more, "the hand-out asks for another round at once"
    second = store.plan_round(set(), EVERYONE)
    by_user = {send.h323: send for send in second.sends}
    assert sorted(by_user) == ["alice", "bob"]
    assert by_user["alice"].target.note.startswith("Computer off since ")
    assert {send.trigger_id for send in second.sends} == {t.pk for t in children(device).values()}


def test_a_handed_out_trigger_older_than_the_users_last_decision_is_stale(api_client, auth, alice):
    alice.presence = tel("", "")
    alice.save()
    seen(alice, "logon", "PC-7", 30)
    decided = timezone.now() - dt.timedelta(minutes=1)
    UserState.objects.create(user=alice, set_at=decided, set_by="restore", last_event_at=decided)
    device = device_event(api_client, auth, "shutdown", "PC-7", at=(decided - dt.timedelta(minutes=1)).isoformat())
    hand_out()
    planned = store.plan_round(set(), EVERYONE)
    child = children(device)["alice"]
    child.refresh_from_db()
    assert planned.sends == [] and (child.status, child.reason) == ("skipped", "stale")


def test_a_handed_out_trigger_of_an_unlicensed_user_is_refused(api_client, auth, make_user):
    dave = make_user("dave", licensed=False)
    seen(dave, "logon", "PC-7", 30)
    device = device_event(api_client, auth, "shutdown", "PC-7")
    hand_out()
    store.plan_round(set(), EVERYONE)
    child = children(device)["dave"]
    child.refresh_from_db()
    assert child.status == "skipped" and child.decision["error"] == "not_licensed"


def test_handing_out_twice_makes_one_trigger_per_user(api_client, auth, alice):
    seen(alice, "logon", "PC-7", 30)
    device = device_event(api_client, auth, "sleep", "PC-7")
    now = timezone.now()
    assert len(queue.fan_out(device, [alice], now)) == 1
    assert queue.fan_out(device, [alice], now) == []
    assert Trigger.objects.filter(parent=device).count() == 1


def test_the_migration_fills_the_computer_of_last_weeks_triggers(alice):
    from importlib import import_module

    fill = import_module("triggers.migrations.0004_fill_trigger_computer").fill
    recent = Trigger.objects.create(event="logon", at=timezone.now(), user_value="alice", device=" TS-01/RDP#2")
    plain = Trigger.objects.create(event="logon", at=timezone.now(), user_value="alice", device="PC-7")
    old = Trigger.objects.create(
        event="logon", at=timezone.now(), received_at=timezone.now() - dt.timedelta(days=8), device="PC-9"
    )
    fill(django_apps, None)
    assert [Trigger.objects.get(pk=t.pk).computer for t in (recent, plain, old)] == ["ts-01", "pc-7", ""]
