"""The worker's planning step against the database: what a take-over finds and how it decides."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from presence.link import applier
from presence.models import UserState
from triggers.models import Trigger

pytestmark = pytest.mark.django_db


def tel(activity: str, note: str) -> list[dict]:
    return [{"contact": "tel:", "status": "open", "activity": activity, "note": note}]


def we_set_available_but_the_pbx_shows(user, activity: str, note: str) -> dt.datetime:
    """This service set "available" a minute ago; the PBX now shows something else. Returns that time."""
    start = timezone.now() - dt.timedelta(minutes=1)
    UserState.objects.create(user=user, set_activity="", set_note="", set_at=start, last_event_at=start)
    user.presence = tel(activity, note)
    user.save()
    return start


def queued(user, event: str, at: dt.datetime, **fields) -> Trigger:
    return Trigger.objects.create(
        source="api", event=event, at=at, received_at=at, user_value=user.h323, pbx_user=user, **fields
    )


def test_a_presence_sent_by_a_dead_worker_is_taken_as_ours_not_as_a_manual_change(alice):
    """The old holder sent "Logged off" and died before writing the answer; the new one must not
    mistake the PBX showing it for the user's own doing and swallow the next trigger."""
    start = we_set_available_but_the_pbx_shows(alice, "away", "Logged off")
    sent = queued(
        alice, "logoff", start + dt.timedelta(seconds=1), decision={"after": {"activity": "away", "note": "Logged off"}}
    )
    applier.reset_claims()
    newer = queued(alice, "shutdown", start + dt.timedelta(seconds=2))

    planned = applier.plan_work(set())

    assert [(p.trigger_id, p.target.activity) for p in planned.plans] == [(newer.pk, "away")]
    assert planned.plans[0].target.note.startswith("Computer off since ")
    assert Trigger.objects.get(pk=sent.pk).status == "superseded"
    assert UserState.objects.get(pk=alice.pk).manual_since is None


def test_a_presence_nobody_sent_is_still_a_manual_change(alice):
    start = we_set_available_but_the_pbx_shows(alice, "dnd", "Focus time")
    lock = queued(alice, "lock", start + dt.timedelta(seconds=1))

    planned = applier.plan_work(set())

    assert planned.plans == []
    assert Trigger.objects.get(pk=lock.pk).reason == "manual change protected"


def test_a_re_decided_trigger_the_pbx_already_shows_is_not_sent_again(alice):
    start = we_set_available_but_the_pbx_shows(alice, "away", "Logged off")
    sent = queued(
        alice, "logoff", start + dt.timedelta(seconds=1), decision={"after": {"activity": "away", "note": "Logged off"}}
    )

    planned = applier.plan_work(set())

    assert planned.plans == []
    row = Trigger.objects.get(pk=sent.pk)
    assert (row.status, row.reason) == ("skipped", "unchanged")
    state = UserState.objects.get(pk=alice.pk)
    assert (state.set_activity, state.set_note, state.manual_since) == ("away", "Logged off", None)


def test_planning_leaves_out_users_in_flight_and_fails_triggers_without_a_user(alice, make_user):
    bob = make_user("bob")
    now = timezone.now()
    for_alice = queued(alice, "logon", now)
    for_bob = queued(bob, "logon", now)
    orphan = Trigger.objects.create(source="api", event="logon", at=now, received_at=now, user_value="gone")

    planned = applier.plan_work({alice.pk})

    assert [p.trigger_id for p in planned.plans] == [for_bob.pk]
    assert Trigger.objects.get(pk=for_alice.pk).status == "queued"  # decided once alice's SetPresence is answered
    assert (Trigger.objects.get(pk=orphan.pk).status, Trigger.objects.get(pk=orphan.pk).reason) == (
        "failed",
        "no PBX user",
    )


def test_planning_skips_a_user_whose_licence_switch_is_off(alice, make_user):
    carol = make_user("carol", licensed=False)
    lock = queued(carol, "lock", timezone.now())

    planned = applier.plan_work(set())

    assert planned.plans == []
    row = Trigger.objects.get(pk=lock.pk)
    assert row.status == "skipped" and row.decision["error"] == "not_licensed"


def test_planning_reads_and_writes_the_users_memory(alice):
    start = timezone.now() - dt.timedelta(minutes=5)
    UserState.objects.create(
        user=alice, set_activity="", set_note="", set_at=start, last_event_at=start, heartbeat_lost_fired=True
    )
    alice.presence = tel("", "")
    alice.save()
    lock = queued(alice, "lock", start + dt.timedelta(minutes=1))
    beat = queued(alice, "heartbeat", start + dt.timedelta(minutes=2))

    planned = applier.plan_work(set())

    assert [p.trigger_id for p in planned.plans] == [lock.pk]
    assert planned.plans[0].memory.saved == applier.engine.Presence("", "")  # what unlock restores
    state = UserState.objects.get(pk=alice.pk)
    assert state.last_heartbeat_at == beat.at and state.heartbeat_lost_fired is False
    assert Trigger.objects.get(pk=beat.pk).status == "skipped"


def test_a_user_whose_answer_is_written_is_planned_again_in_the_same_round(alice, make_user):
    bob = make_user("bob")
    start = timezone.now() - dt.timedelta(minutes=1)
    first = applier.plan_work(set()).plans
    assert first == []  # nothing queued yet
    logon = queued(alice, "logon", start)
    (sent,) = applier.plan_work(set()).plans
    lock = queued(alice, "lock", start + dt.timedelta(seconds=10))
    for_bob = queued(bob, "logon", start + dt.timedelta(seconds=10))

    reported, planned = applier.write_then_plan([applier.Applied(sent, timezone.now())], {alice.pk, bob.pk})

    assert reported == {} and Trigger.objects.get(pk=logon.pk).status == "applied"
    assert [p.trigger_id for p in planned.plans] == [lock.pk]  # bob's SetPresence is still in flight
    assert Trigger.objects.get(pk=for_bob.pk).status == "queued"


def test_heartbeat_expiry_takes_an_absurd_stored_timeout_as_the_longest_allowed(alice):
    """A value written before the bound existed (or by SQL) must not raise OverflowError every round."""
    from presence.models import ServiceSettings

    options = ServiceSettings.current()
    options.heartbeat_timeout_minutes = 1_100_000_000
    options.save()  # save() does not validate
    now = timezone.now()
    UserState.objects.create(user=alice, last_heartbeat_at=now - dt.timedelta(days=2))

    assert applier.expire_heartbeats(now) == 1  # silent for longer than a day, the longest timeout
    assert Trigger.objects.get(event="heartbeat-lost").pbx_user == alice
