"""Presence is never left wrong: the sequences that once left people "screen locked", end to end.

Each test drives `runheartbeat` over HTTP against the simulator, as a computer and an administrator
would, and checks what the PBX shows at the end (the only thing colleagues see).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from django.utils import timezone

from presence.models import LinkStatus, PbxUser
from tests.e2e.conftest import linked_server
from tests.e2e.stack import ROOT, child_env, settled, shown, wait_until
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


def post(server, key: str, user, event: str, at: dt.datetime | None = None) -> int:
    body = {"user": user.h323, "event": event}
    if at is not None:
        body["at"] = at.isoformat()
    code, answer = server.post(key, body)
    assert code == 202, answer
    return answer["id"]


def sent_to(sim, user) -> list[dict]:
    return [m for m in sim.simulator.received if m.get("guid") == user.guid]


def manage(*args: str) -> str:
    """A management command in its own process, as an administrator runs it beside the server."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def unlicensed_server(sim, rules, key):
    """`runheartbeat` with the directory replicated and nobody licensed yet."""
    with linked_server(sim, "server-unlicensed") as process:
        yield process


def test_licensing_from_the_command_line_reaches_the_running_worker_before_the_first_lock(unlicensed_server, sim, key):
    user = sim.simulator.users[0]
    sim.call(sim.simulator.set_presence_from_phone, user.guid, "busy", "Writing the report")
    manage("licenseusers", "--on", user.h323)
    lock = settled(post(unlicensed_server, key, user, "lock"))
    assert lock.status == "applied"
    assert lock.decision["before"] == {"activity": "busy", "note": "Writing the report"}
    unlock = settled(post(unlicensed_server, key, user, "unlock"))
    assert (unlock.status, unlock.decision["preset"]) == ("applied", "restore")
    assert shown(sim, user) == ("busy", "Writing the report")


def test_licensing_from_the_command_line_subscribes_the_user_without_any_trigger(unlicensed_server, sim):
    user = sim.simulator.users[1]
    assert user.guid not in sim.simulator.subscriptions
    manage("licenseusers", "--on", user.h323)
    wait_until(lambda: user.guid in sim.simulator.subscriptions, 60, message="the SubscribePresence")
    # Said by the worker when it picked the change up: the licence watch, not the periodic reconcile.
    wait_until(
        lambda: "licence changed" in unlicensed_server.output(), 30, message="the worker to log the licence change"
    )


def test_a_logon_storm_right_after_licensing_sends_nothing_to_users_already_available(unlicensed_server, sim, key):
    users = sim.simulator.users[:15]
    manage("licenseusers", "--on", *[u.h323 for u in users])
    ids = [post(unlicensed_server, key, u, "logon") for u in users]
    rows = [settled(i) for i in ids]
    assert {(r.status, r.reason) for r in rows} == {("skipped", "unchanged")}
    assert all(r.decision["before"] == {"activity": "", "note": ""} for r in rows)
    assert [m for m in sim.simulator.received if m.get("guid") in {u.guid for u in users}] == []


def test_a_trigger_waits_for_the_presence_the_pbx_reports_late(server, sim, key):
    user = sim.simulator.users[2]
    sim.call(sim.simulator.set_presence_from_phone, user.guid, "dnd", "Focus time")
    sim.simulator.hold_presence_reports = True
    sim.call(sim.simulator.drop_all)  # the link reconnects and subscribes again; the reports are held
    wait_until(lambda: user.guid in sim.simulator.subscriptions, 60, message="the new subscription")
    lock_id = post(server, key, user, "lock")
    wait_until(lambda: "waiting for the PBX to report" in server.output(), 30, message="the worker to hold the lock")
    assert Trigger.objects.get(pk=lock_id).status == "queued"
    sim.call(sim.simulator.release_presence_reports)
    lock = settled(lock_id)
    # Protected by nothing, so applied — but it knew what it replaced.
    assert lock.status == "applied" and lock.decision["before"] == {"activity": "dnd", "note": "Focus time"}
    unlock = settled(post(server, key, user, "unlock"))
    assert unlock.status == "applied"
    assert shown(sim, user) == ("dnd", "Focus time")


def test_a_trigger_is_decided_with_presence_unknown_when_the_pbx_never_reports(server, sim, key):
    user = sim.simulator.users[3]
    sim.simulator.hold_presence_reports = True
    sim.call(sim.simulator.drop_all)
    wait_until(lambda: user.guid in sim.simulator.subscriptions, 60, message="the new subscription")
    lock = settled(post(server, key, user, "lock"))
    assert lock.status == "applied" and lock.decision["before"] is None
    assert "presence unknown" in lock.decision["rule"]
    # Nothing was saved, and the PBX shows our lock: unlock falls back to available, never stays locked.
    unlock = settled(post(server, key, user, "unlock"))
    assert unlock.status == "applied" and "nothing to restore" in unlock.decision["rule"]
    assert shown(sim, user) == ("", "")


def test_after_an_outage_the_newest_unlock_ends_in_the_presence_from_before_the_lock(unlicensed_server, sim, key):
    """Licensed from the command line, locked at once, then the PBX went away while lock/unlock pairs came in."""
    user = sim.simulator.users[4]
    sim.call(sim.simulator.set_presence_from_phone, user.guid, "busy", "Customer call")
    manage("licenseusers", "--on", user.h323)
    start = timezone.now()
    assert settled(post(unlicensed_server, key, user, "lock", start)).status == "applied"
    sim.call(sim.simulator.go_down)
    wait_until(lambda: not LinkStatus.objects.get().connected, 60, message="the link to notice")
    ids = [
        post(unlicensed_server, key, user, event, start + dt.timedelta(seconds=n))
        for n, event in enumerate(["unlock", "lock", "unlock", "lock", "unlock"], start=1)
    ]
    sim.call(sim.simulator.come_back)
    rows = [settled(i) for i in ids]
    assert [r.status for r in rows[:-1]] == ["superseded"] * 4
    assert rows[-1].status == "applied"
    assert shown(sim, user) == ("busy", "Customer call")


def test_after_an_outage_that_cost_the_pbx_its_presence_the_newest_unlock_never_leaves_screen_locked(server, sim, key):
    user = sim.simulator.users[5]
    wait_until(lambda: user.guid in sim.simulator.subscriptions, 60, message="the subscription")
    start = timezone.now()
    assert settled(post(server, key, user, "lock", start)).status == "applied"
    sim.call(sim.simulator.go_down)
    wait_until(lambda: not LinkStatus.objects.get().connected, 60, message="the link to notice")
    sim.simulator.users[5].presence = []  # the PBX restarted and forgot every presence
    ids = [post(server, key, user, e, start + dt.timedelta(seconds=n)) for n, e in enumerate(["lock", "unlock"], 1)]
    sim.call(sim.simulator.come_back)
    settled(ids[-1])
    activity, note = shown(sim, user)
    assert not note.startswith("Screen locked") and activity != "away"


def test_a_lock_whose_answer_was_lost_is_not_saved_as_the_presence_to_restore(server, sim, key):
    user = sim.simulator.users[6]
    sim.call(sim.simulator.set_presence_from_phone, user.guid, "busy", "In a meeting")
    wait_until(
        lambda: PbxUser.objects.get(guid=user.guid).contact("tel:").get("activity") == "busy",
        60,
        message="the worker to know the presence",
    )
    sim.simulator.lose_answer_for.add(user.guid)
    lock = settled(post(server, key, user, "lock"))
    assert shown(sim, user)[0] == "away"  # the PBX took the lock although its answer was lost
    assert lock.decision["before"] == {"activity": "busy", "note": "In a meeting"}
    unlock = settled(post(server, key, user, "unlock"))
    assert unlock.status == "applied"
    assert shown(sim, user) == ("busy", "In a meeting")


def test_two_locks_straddling_a_minute_send_one_set_presence_and_keep_the_first_time(server, sim, key):
    user = sim.simulator.users[7]
    wait_until(lambda: user.guid in sim.simulator.subscriptions, 60, message="the subscription")
    first_at = timezone.now().replace(second=59, microsecond=0) - dt.timedelta(minutes=1)
    first = settled(post(server, key, user, "lock", first_at))
    second = settled(post(server, key, user, "lock", first_at + dt.timedelta(seconds=1)))
    assert first.status == "applied"
    assert (second.status, second.reason) == ("skipped", "already locked")
    assert len(sent_to(sim, user)) == 1
    note = shown(sim, user)[1]
    assert note == f"Screen locked since {timezone.localtime(first_at):%H:%M}"
    unlock = settled(post(server, key, user, "unlock"))
    assert unlock.status == "applied" and shown(sim, user) == ("", "")
