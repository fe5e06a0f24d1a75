"""The PBX link end to end, over real sockets: HTTP → trigger row → worker → simulator → outcome."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from django.utils import timezone

from presence.models import LinkStatus, PbxUser
from tests.e2e.conftest import SIM_PASSWORD
from tests.e2e.stack import Server, wait_until
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(trigger_id: int) -> str:
    return Trigger.objects.get(pk=trigger_id).status


def test_a_posted_trigger_sets_the_mapped_presence_on_the_pbx(server, sim, key):
    user = sim.simulator.users[0]
    code, body = server.post(key, {"user": user.h323, "event": "lock", "device": "PC-1"})
    assert code == 202 and body["status"] == "queued"
    wait_until(lambda: status_of(body["id"]) == "applied", 60, message="the trigger to be applied")
    sent = [m for m in sim.simulator.received if m.get("guid") == user.guid]
    assert len(sent) == 1
    assert sent[0]["activity"] == "away" and sent[0]["contact"] == "tel:"
    assert sent[0]["note"].startswith("Screen locked since ")
    row = Trigger.objects.get(pk=body["id"])
    assert row.applied_at is not None and row.decision["after"] == {"activity": "away", "note": sent[0]["note"]}
    assert sim.simulator.presence_of(user.guid)["activity"] == "away"


def test_a_pbx_error_marks_the_trigger_failed_with_its_text(server, sim, key):
    user = sim.simulator.users[1]
    sim.simulator.set_presence_error[user.guid] = (7, "no rights for this user")
    code, body = server.post(key, {"user": user.h323, "event": "lock"})
    assert code == 202
    wait_until(lambda: status_of(body["id"]) == "failed", 60, message="the trigger to fail")
    assert "no rights for this user" in Trigger.objects.get(pk=body["id"]).reason


def test_a_wrong_pbx_password_is_reported_without_a_retry_storm(sim, rules, licensed):
    process = Server(sim.simulator.url, "not-the-password", name="server-wrong-password")
    try:
        wait_until(lambda: LinkStatus.objects.exclude(last_error="").exists(), 60, message="a link error")
        wait_until(lambda: sim.simulator.login_attempts >= 3, 60, message="three refused logins")
        # 0.5 s, 1 s, 2 s … back-off, not a storm: the PBX sees each attempt at least 0.5 s, then 1 s,
        # after the one before (lower bounds: a busy machine only makes the gaps longer).
        gaps = [later - earlier for earlier, later in itertools.pairwise(sim.simulator.login_times[:3])]
        assert gaps[0] >= 0.49 and gaps[1] >= 0.99, gaps
        status = LinkStatus.objects.get()
        assert not status.connected
        assert "password" in status.last_error.lower()
    finally:
        process.stop()


@pytest.mark.parametrize(
    "outage",
    [
        # In `make test`: down until the worker has tried the PBX again after the last trigger was stored.
        pytest.param(None, id="until-a-later-attempt"),
        # In `make test-long`: the PBX down for 30 s in all, as issue 2 describes the outage.
        pytest.param(30, id="30s", marks=pytest.mark.slow),
    ],
)
def test_triggers_queued_while_the_pbx_is_down_are_applied_newest_per_user(server, sim, key, outage):
    users = sim.simulator.users[:20]
    sim.call(sim.simulator.go_down)
    went_down = time.monotonic()
    wait_until(lambda: not LinkStatus.objects.get().connected, 30, message="the link to notice")
    base = timezone.now() - dt.timedelta(seconds=60)
    events = ["logon", "lock", "unlock", "lock", "shutdown"]
    ids: dict[str, list[int]] = {}
    for n, event in enumerate(events):
        for user in users:
            at = (base + dt.timedelta(seconds=n)).isoformat()
            code, body = server.post(key, {"user": user.h323, "event": event, "at": at})
            assert code == 202
            ids.setdefault(user.guid, []).append(body["id"])
    assert Trigger.objects.filter(status="queued").count() == 100
    if outage is None:
        last = Trigger.objects.latest("received_at").received_at
        status = wait_until(
            lambda: LinkStatus.objects.filter(updated_at__gt=last).first(), 30, message="a status after the triggers"
        )
        wait_until(lambda: LinkStatus.objects.get().reconnects > status.reconnects, 60, message="another attempt")
    else:
        time.sleep(max(0.0, outage - (time.monotonic() - went_down)))  # the fault itself, not a wait for a result
    assert Trigger.objects.filter(status="queued").count() == 100  # kept while the PBX cannot be reached
    sim.simulator.received.clear()
    sim.call(sim.simulator.come_back)
    wait_until(lambda: not Trigger.objects.filter(status="queued").exists(), 90, message="the queue to drain")
    for user in users:
        rows = list(Trigger.objects.filter(pk__in=ids[user.guid]).order_by("at"))
        assert [r.status for r in rows] == ["superseded"] * 4 + ["applied"]
        sent = [m for m in sim.simulator.received if m.get("guid") == user.guid]
        assert len(sent) == 1 and sent[0]["note"] == "Shut down"  # newest only, exactly once
        assert sim.simulator.presence_of(user.guid)["note"] == "Shut down"


def test_a_killed_worker_leaves_its_queue_to_the_next(sim, rules, licensed, key):
    users = sim.simulator.users[:5]
    first = Server(sim.simulator.url, SIM_PASSWORD, name="server-killed")
    try:
        wait_until(lambda: PbxUser.objects.count() == len(sim.simulator.users), 60, message="the directory")
        sim.call(sim.simulator.go_down)
        wait_until(lambda: not LinkStatus.objects.get().connected, 30, message="the link to notice")
        ids = [first.post(key, {"user": u.h323, "event": "lock"})[1]["id"] for u in users]
    finally:
        first.kill()
    assert set(Trigger.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"queued"}
    sim.call(sim.simulator.come_back)
    second = Server(sim.simulator.url, SIM_PASSWORD, name="server-restarted")
    try:
        wait_until(
            lambda: Trigger.objects.filter(pk__in=ids, status="applied").count() == len(ids),
            90,
            message="the restarted worker to apply the queue",
        )
        for user in users:
            assert len([m for m in sim.simulator.received if m.get("guid") == user.guid]) == 1
    finally:
        second.stop()
