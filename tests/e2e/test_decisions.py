"""The decision engine end to end over the simulator: the examples the product promises."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from presence.models import OverrideRule, PbxUser, ServiceSettings, UserState
from tests.e2e.stack import settled, wait_until
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


def sent_to(sim, guid: str) -> list[dict]:
    return [m for m in sim.simulator.received if m.get("guid") == guid]


def phone(sim, user, activity: str, note: str) -> None:
    """The user changes presence on the phone or in myApps; wait until the service has seen it."""
    sim.call(sim.simulator.set_presence_from_phone, user.guid, activity, note)
    wait_until(
        lambda: PbxUser.objects.get(guid=user.guid).contact("tel:").get("note") == note,
        60,
        message="the PresenceUpdate to reach the directory",
    )


def subscribed(sim, user) -> None:
    def watched() -> bool:  # read on the simulator's own loop, which changes the subscriptions meanwhile
        return user.guid in sim.simulator.subscriptions

    wait_until(lambda: sim.call(watched), 60, message="the presence subscription")


@pytest.fixture
def override_rules(rules):
    """The two examples of the issue, in order: an online meeting yields to shutdown, not to the rest."""
    OverrideRule.objects.create(
        order=1, name="holiday", activities=["away"], note_match="contains", note_pattern="holiday", events=[]
    )
    OverrideRule.objects.create(
        order=2,
        name="online meeting ends at shutdown",
        activities=["dnd"],
        note_match="contains",
        note_pattern="online meeting",
        events=["shutdown"],
        decision="override",
    )
    OverrideRule.objects.create(
        order=3, name="online meeting", activities=["dnd"], note_match="contains", note_pattern="online meeting"
    )


def test_it_keeps_holiday_presence_on_every_event(override_rules, server, sim, key):
    user = sim.simulator.users[0]
    subscribed(sim, user)
    phone(sim, user, "away", "On holiday until Monday")
    for event in ("shutdown", "lock", "logon"):
        code, body = server.post(key, {"user": user.h323, "event": event})
        assert code == 202
        row = settled(body["id"])
        assert (row.status, row.reason) == ("skipped", "protected: holiday")
    assert sent_to(sim, user.guid) == []
    assert sim.simulator.presence_of(user.guid)["note"] == "On holiday until Monday"


def test_an_online_meeting_is_overridden_on_shutdown_only(override_rules, server, sim, key):
    user = sim.simulator.users[1]
    subscribed(sim, user)
    phone(sim, user, "dnd", "Online meeting with Contoso")
    lock = settled(server.post(key, {"user": user.h323, "event": "lock"})[1]["id"])
    assert (lock.status, lock.reason) == ("skipped", "protected: online meeting")
    shutdown = settled(server.post(key, {"user": user.h323, "event": "shutdown"})[1]["id"])
    assert shutdown.status == "applied"
    assert sim.simulator.presence_of(user.guid)["note"] == "Shut down"


def test_unlock_restores_what_lock_replaced(server, sim, key):
    user = sim.simulator.users[2]
    subscribed(sim, user)
    phone(sim, user, "busy", "Writing the quarterly report")
    assert settled(server.post(key, {"user": user.h323, "event": "lock"})[1]["id"]).status == "applied"
    assert sim.simulator.presence_of(user.guid)["activity"] == "away"
    unlock = settled(server.post(key, {"user": user.h323, "event": "unlock"})[1]["id"])
    assert unlock.status == "applied" and unlock.decision["preset"] == "restore"
    restored = sim.simulator.presence_of(user.guid)
    assert (restored["activity"], restored["note"]) == ("busy", "Writing the quarterly report")


def test_a_change_made_by_hand_is_protected_until_the_next_logon(server, sim, key):
    user = sim.simulator.users[3]
    subscribed(sim, user)
    assert settled(server.post(key, {"user": user.h323, "event": "lock"})[1]["id"]).status == "applied"
    phone(sim, user, "dnd", "Call me later")
    unlock = settled(server.post(key, {"user": user.h323, "event": "unlock"})[1]["id"])
    lock = settled(server.post(key, {"user": user.h323, "event": "lock"})[1]["id"])
    assert unlock.status == "skipped" and lock.reason == "manual change protected"
    assert sim.simulator.presence_of(user.guid)["note"] == "Call me later"
    logon = settled(server.post(key, {"user": user.h323, "event": "logon"})[1]["id"])
    assert logon.status == "applied" and sim.simulator.presence_of(user.guid)["activity"] == ""


def debounce_for(seconds: int) -> None:
    settings_row = ServiceSettings.current()
    settings_row.debounce_seconds = seconds
    settings_row.save()


@pytest.fixture
def debounce(rules):
    debounce_for(3)


@pytest.fixture
def long_debounce(rules):
    """A window far longer than two POSTs take even on a busy machine: the unlock always comes in time."""
    debounce_for(60)


def test_a_lock_quickly_followed_by_an_unlock_sends_nothing(long_debounce, server, sim, key):
    user = sim.simulator.users[4]
    now = timezone.now()
    at = {"lock": now - dt.timedelta(seconds=1), "unlock": now}  # one second apart, whenever they arrive
    lock, unlock = (
        server.post(key, {"user": user.h323, "event": event, "at": at[event].isoformat()})[1]["id"]
        for event in ("lock", "unlock")
    )
    for trigger_id in (lock, unlock):
        row = settled(trigger_id)
        assert row.status == "skipped" and row.reason.startswith("debounced")
    assert sent_to(sim, user.guid) == []


def test_a_lock_alone_is_applied_after_the_debounce_window(debounce, server, sim, key):
    user = sim.simulator.users[5]
    lock = server.post(key, {"user": user.h323, "event": "lock"})[1]["id"]
    row = settled(lock)
    assert row.status == "applied"
    assert (row.applied_at - row.received_at).total_seconds() >= 3


@pytest.fixture
def heartbeat_timeout(rules):
    settings_row = ServiceSettings.current()
    settings_row.heartbeat_timeout_minutes = 1
    settings_row.save()


def test_heartbeat_lost_fires_once_after_the_timeout(heartbeat_timeout, server, sim, key):
    user = sim.simulator.users[6]
    beat_at = (timezone.now() - dt.timedelta(seconds=61)).isoformat()
    beat = settled(server.post(key, {"user": user.h323, "event": "heartbeat", "at": beat_at})[1]["id"])
    assert (beat.status, beat.reason) == ("skipped", "heartbeat recorded")
    lost = wait_until(
        lambda: Trigger.objects.filter(event="heartbeat-lost", pbx_user__guid=user.guid, status="applied").first(),
        90,
        message="heartbeat-lost to fire",
    )
    assert lost.source == "system"
    assert sim.simulator.presence_of(user.guid)["note"] == "Shut down"
    # Fired once: the user's state says so, so later expiry checks leave the user alone.
    assert UserState.objects.get(user__guid=user.guid).heartbeat_lost_fired
    assert Trigger.objects.filter(event="heartbeat-lost", pbx_user__guid=user.guid).count() == 1


def test_a_trigger_older_than_the_last_one_applied_is_stale(server, sim, key):
    user = sim.simulator.users[7]
    now = timezone.now()
    lock = settled(server.post(key, {"user": user.h323, "event": "lock", "at": now.isoformat()})[1]["id"])
    assert lock.status == "applied"
    earlier = (now - dt.timedelta(minutes=1)).isoformat()
    logon = settled(server.post(key, {"user": user.h323, "event": "logon", "at": earlier})[1]["id"])
    assert (logon.status, logon.reason) == ("skipped", "stale")
    assert len(sent_to(sim, user.guid)) == 1
