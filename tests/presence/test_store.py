"""The worker's database side against the database: what a take-over finds, how a round is read and stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from presence.link import store
from presence.models import UserState
from triggers import queue
from triggers.models import Trigger

pytestmark = pytest.mark.django_db


class _Everyone:
    """`known` for tests about other rules: the PBX has reported everybody's presence."""

    def __contains__(self, guid: object) -> bool:
        return True


EVERYONE = _Everyone()


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
    queue.reset_claims()
    newer = queued(alice, "shutdown", start + dt.timedelta(seconds=2))

    planned = store.plan_round(set(), EVERYONE)

    assert [(p.trigger_id, p.target.activity) for p in planned.sends] == [(newer.pk, "away")]
    assert planned.sends[0].target.note.startswith("Computer off since ")
    assert Trigger.objects.get(pk=sent.pk).status == "superseded"
    assert UserState.objects.get(pk=alice.pk).manual_since is None


def test_a_presence_nobody_sent_is_still_a_manual_change(alice):
    start = we_set_available_but_the_pbx_shows(alice, "dnd", "Focus time")
    lock = queued(alice, "lock", start + dt.timedelta(seconds=1))

    planned = store.plan_round(set(), EVERYONE)

    assert planned.sends == []
    assert Trigger.objects.get(pk=lock.pk).reason == "manual change protected"


def test_a_re_decided_trigger_the_pbx_already_shows_is_recorded_applied_not_sent_again(alice):
    start = we_set_available_but_the_pbx_shows(alice, "away", "Logged off")
    sent = queued(
        alice, "logoff", start + dt.timedelta(seconds=1), decision={"after": {"activity": "away", "note": "Logged off"}}
    )

    planned = store.plan_round(set(), EVERYONE)

    assert planned.sends == []
    row = Trigger.objects.get(pk=sent.pk)
    assert (row.status, row.reason) == ("applied", "applied; the PBX's answer was lost with the link")
    assert row.applied_at is not None
    state = UserState.objects.get(pk=alice.pk)
    assert (state.set_activity, state.set_note, state.manual_since) == ("away", "Logged off", None)


def test_planning_leaves_out_users_in_flight_and_fails_triggers_without_a_user(alice, make_user):
    bob = make_user("bob", presence=tel("away", "Logged off"))
    now = timezone.now()
    for_alice = queued(alice, "logon", now)
    for_bob = queued(bob, "logon", now)
    orphan = Trigger.objects.create(source="api", event="logon", at=now, received_at=now, user_value="gone")

    planned = store.plan_round({alice.pk}, EVERYONE)

    assert [p.trigger_id for p in planned.sends] == [for_bob.pk]
    assert Trigger.objects.get(pk=for_alice.pk).status == "queued"  # decided once alice's SetPresence is answered
    assert (Trigger.objects.get(pk=orphan.pk).status, Trigger.objects.get(pk=orphan.pk).reason) == (
        "failed",
        "no PBX user",
    )


def test_planning_skips_a_user_whose_licence_switch_is_off(alice, make_user):
    carol = make_user("carol", licensed=False)
    lock = queued(carol, "lock", timezone.now())

    planned = store.plan_round(set(), EVERYONE)

    assert planned.sends == []
    row = Trigger.objects.get(pk=lock.pk)
    assert row.status == "skipped" and row.decision["error"] == "not_licensed"


def test_planning_reads_and_writes_the_users_memory(alice):
    start = timezone.now() - dt.timedelta(minutes=5)
    UserState.objects.create(
        user=alice,
        set_activity="",
        set_note="",
        set_at=start,
        set_by="button",
        last_event_at=start,
        heartbeat_lost_fired=True,
    )
    alice.presence = tel("", "")
    alice.save()
    lock = queued(alice, "lock", start + dt.timedelta(minutes=1))
    beat = queued(alice, "heartbeat", start + dt.timedelta(minutes=2))

    planned = store.plan_round(set(), EVERYONE)

    assert [p.trigger_id for p in planned.sends] == [lock.pk]
    assert planned.sends[0].memory.saved == store.engine.Presence("", "")  # what unlock restores
    state = UserState.objects.get(pk=alice.pk)
    assert state.last_heartbeat_at == beat.at and state.heartbeat_lost_fired is False
    assert Trigger.objects.get(pk=beat.pk).status == "skipped"


def test_a_user_whose_answer_is_written_is_planned_again_in_the_same_round(alice, make_user):
    bob = make_user("bob", presence=tel("away", "Logged off"))
    alice.presence = tel("away", "Logged off")
    alice.save()
    start = timezone.now() - dt.timedelta(minutes=1)
    first = store.plan_round(set(), EVERYONE).sends
    assert first == []  # nothing queued yet
    logon = queued(alice, "logon", start)
    (sent,) = store.plan_round(set(), EVERYONE).sends
    lock = queued(alice, "lock", start + dt.timedelta(seconds=10))
    for_bob = queued(bob, "logon", start + dt.timedelta(seconds=10))

    reported, planned = store.write_then_plan([store.Applied(sent, timezone.now())], {alice.pk, bob.pk}, EVERYONE)

    assert reported == {} and Trigger.objects.get(pk=logon.pk).status == "applied"
    assert [p.trigger_id for p in planned.sends] == [lock.pk]  # bob's SetPresence is still in flight
    assert Trigger.objects.get(pk=for_bob.pk).status == "queued"


# --- known before decided ---------------------------------------------------------------------------------


def test_a_trigger_waits_until_the_pbx_has_reported_the_users_presence(alice):
    lock = queued(alice, "lock", timezone.now())

    planned = store.plan_round(set(), known=set())

    assert planned.sends == [] and planned.waiting == [alice.guid]
    lock.refresh_from_db()
    assert (lock.status, lock.decided_at) == ("queued", None)


def test_a_trigger_that_waited_in_vain_is_decided_with_presence_unknown(alice):
    lock = queued(alice, "lock", timezone.now())

    planned = store.plan_round(set(), known=set(), waited_out={alice.guid})

    assert [p.trigger_id for p in planned.sends] == [lock.pk] and planned.waiting == []
    lock.refresh_from_db()
    assert lock.decision["before"] is None and "presence unknown" in lock.decision["rule"]


def test_an_unlicensed_users_trigger_is_refused_without_waiting(make_user):
    bob = make_user("bob", licensed=False)
    lock = queued(bob, "lock", timezone.now())

    planned = store.plan_round(set(), known=set())

    lock.refresh_from_db()
    assert planned.waiting == [] and lock.status == "skipped" and lock.reason.startswith("refused")


def test_a_reported_presence_without_a_tel_entry_is_available(alice):
    alice.presence = [{"contact": "im:", "status": "open", "activity": "busy", "note": "chat only"}]
    alice.save()
    logon = queued(alice, "logon", timezone.now())

    store.plan_round(set(), known={alice.guid})

    logon.refresh_from_db()
    assert (logon.status, logon.reason) == ("skipped", "unchanged")
    assert logon.decision["before"] == {"activity": "", "note": ""}
