"""The fault suite: the PBX flapping or refusing logins, Redis or PostgreSQL restarting, the link
holder SIGKILLed — under load. Each ends with no accepted trigger lost, none applied twice, and the
newest state per user on the PBX. Short versions run in `make test`; `make test-long` runs the long
ones (marked slow).
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.utils import timezone

from presence.models import LinkStatus, PbxUser
from tests.e2e.conftest import SIM_PASSWORD
from tests.e2e.stack import Web, Worker, wait_until
from tests.services import PostgresServer, RedisServer, in_ci
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)

# What each event's preset shows on the PBX (see the `rules` fixture); unlock restores the simulator's
# default presence (available), which is what every user had before their first lock.
EXPECTED = {
    "lock": ("away", "Screen locked since "),
    "logon": ("", ""),
    "shutdown": ("away", "Shut down"),
    "unlock": ("", ""),
}


@dataclass
class Load:
    """Posts triggers for a set of users at a steady rate, with strictly increasing `at` per user."""

    post: object
    key: str
    users: list
    rate: float = 20.0
    events: tuple[str, ...] = ("lock", "logon", "shutdown")
    accepted: list[tuple[int, str, str, dt.datetime]] = field(default_factory=list)
    refused: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        events = self.events
        n = 0
        start = timezone.now()
        while not self._stop.is_set():
            user = self.users[n % len(self.users)]
            event = events[(n // len(self.users)) % len(events)]
            at = start + dt.timedelta(milliseconds=10 * n)
            code, body = self.post(self.key, {"user": user.h323, "event": event, "at": at.isoformat()})
            if code == 202:
                self.accepted.append((body["id"], user.guid, event, at))
            else:
                self.refused += 1  # not accepted (the outage answered 503 or the connection failed): not ours to keep
            n += 1
            time.sleep(1 / self.rate)

    def wait_accepted(self, count: int, timeout: float = 120) -> None:
        """Until `count` triggers have been accepted in all: the load's progress, not its duration."""
        wait_until(lambda: len(self.accepted) >= count, timeout, message=f"{count} accepted triggers")

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


def assert_nothing_lost_nothing_twice_newest_on_pbx(load: Load, sim, timeout: float = 90) -> None:
    ids = [a[0] for a in load.accepted]
    assert ids, "the load generator got nothing accepted"
    wait_until(
        lambda: not Trigger.objects.filter(pk__in=ids, status="queued").exists(),
        timeout,
        interval=0.2,
        message="every accepted trigger to be decided",
    )
    statuses = dict(Trigger.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert len(statuses) == len(ids), "an accepted trigger is missing from the log"
    assert set(statuses.values()) <= {"applied", "skipped", "superseded"}, set(statuses.values())
    newest: dict[str, tuple[str, dt.datetime]] = {}
    for _id, guid, event, at in load.accepted:
        if guid not in newest or at > newest[guid][1]:
            newest[guid] = (event, at)
    for guid, (event, _at) in newest.items():
        shown = sim.simulator.presence_of(guid)
        activity, note_prefix = EXPECTED[event]
        if not note_prefix:
            assert (shown["activity"], shown["note"]) == (activity, ""), (guid, event, shown)
        assert shown["activity"] == activity and shown["note"].startswith(note_prefix), (guid, event, shown)
    # Applied twice would show as the same presence sent twice in a row to one user.
    last: dict[str, tuple[str, str]] = {}
    for message in sim.simulator.received:
        target = (message.get("activity", ""), message.get("note", ""))
        assert last.get(message["guid"]) != target, f"SetPresence repeated for {message['guid']}: {target}"
        last[message["guid"]] = target


def flapping(sim, drops: int, every: float = 2.0) -> None:
    """The PBX drops the link `drops` times, `every` s apart (the fault's pace). Each drop waits until
    the link is logged in again, so that every drop breaks a live link however slow the machine is."""
    for _ in range(drops):
        time.sleep(every)
        wait_until(lambda: sim.call(lambda: sim.simulator.connections), 60, message="the link to be back")
        sim.call(sim.simulator.drop_all)


@pytest.mark.parametrize("seconds", [pytest.param(10, id="10s"), pytest.param(30, id="30s", marks=pytest.mark.slow)])
def test_a_flapping_pbx_under_load_loses_nothing(server, sim, key, seconds):
    drops = seconds // 2
    with Load(server.post, key, sim.simulator.users[:10]) as load:
        flapping(sim, drops)
    assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim)
    wait_until(lambda: LinkStatus.objects.get().reconnects >= drops, 30, message=f"{drops} reconnects in the status")


@pytest.fixture
def hundred_users():
    from presence.pbx.simulator import generate_users

    return generate_users(100)


@pytest.mark.parametrize("seconds", [pytest.param(10, id="10s"), pytest.param(30, id="30s", marks=pytest.mark.slow)])
def test_a_flapping_pbx_never_leaves_someone_who_unlocked_screen_locked(hundred_users, server, sim, key, seconds):
    """100 computers locking and unlocking at 20 triggers/s while the PBX drops the link every 2 s: every
    user ends in the state of their newest event, whatever the lost answers and re-decisions."""
    with Load(server.post, key, sim.simulator.users, events=("lock", "unlock")) as load:
        flapping(sim, seconds // 2)
    assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim)


def test_a_pbx_refusing_logins_delays_but_loses_nothing(server, sim, key):
    sim.simulator.refuse_logins = True
    sim.call(sim.simulator.drop_all)
    wait_until(lambda: "refused" in LinkStatus.objects.get().last_error.lower(), 30, message="the refusal")
    with Load(server.post, key, sim.simulator.users[:5]) as load:
        load.wait_accepted(20)  # four triggers per user while the PBX refuses the link
    assert Trigger.objects.filter(status="queued").count() == len(load.accepted)
    sim.simulator.refuse_logins = False
    assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim, timeout=120)  # after up to 32 s of back-off


def holder_pid() -> int | None:
    holder = LinkStatus.objects.filter(lease_until__gt=timezone.now()).values_list("holder", flat=True).first()
    return int(holder.split(":")[1]) if holder else None


@pytest.fixture
def scaled(sim, rules, licensed, key):
    """The scaled layout: daphne for the web tier and two link workers (one holds the link)."""
    web = Web()
    workers = [Worker(sim.simulator.url, SIM_PASSWORD, name=f"worker-{n}") for n in (1, 2)]
    try:
        wait_until(lambda: LinkStatus.objects.filter(connected=True).exists(), 60, message="a link")
        wait_until(lambda: PbxUser.objects.count() >= len(sim.simulator.users), 60, message="the directory")
        yield web, workers
    finally:
        for process in [web, *workers]:
            process.stop()


def taken_over_by_another(pid: int, licensed: int) -> bool:
    """Another holder is logged in and the PBX has reported every licensed user's presence to it."""
    status = LinkStatus.objects.get()
    return (
        holder_pid() not in (None, pid)
        and status.connected
        and status.subscriptions == licensed
        and status.reported == licensed
    )


def test_when_the_link_holder_is_killed_another_worker_takes_over_and_loses_nothing(scaled, sim, key):
    """The killed holder leaves "connected" behind: the new holder resets it and is done only once it is
    logged in and every subscription is reported. How long that takes is measured by bench_link_events."""
    web, workers = scaled
    licensed = len(sim.simulator.users)
    wait_until(lambda: taken_over_by_another(-1, licensed), 60, message="every subscription to be reported")
    pid = holder_pid()
    victim = next(w for w in workers if w.proc.pid == pid)
    with Load(web.post, key, sim.simulator.users[:10]) as load:
        wait_until(lambda: len(load.accepted) >= 10, 60, message="the load to get going")
        victim.kill()
        wait_until(lambda: holder_pid() not in (None, pid), 60, message="another worker to take the lease")
        wait_until(lambda: taken_over_by_another(pid, licensed), 60, message="the new holder's link and reports")
        accepted = len(load.accepted)
        wait_until(lambda: len(load.accepted) >= accepted + 10, 60, message="the load to go on after the take-over")
    assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim)


@pytest.fixture
def own_redis():
    if not shutil.which("redis-server"):
        if in_ci():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer().start()
    yield server
    server.destroy()


def test_a_redis_restart_loses_nothing(own_redis, sim, rules, licensed, key):
    web = Web(REDIS_URL=own_redis.url)
    worker = Worker(sim.simulator.url, SIM_PASSWORD, REDIS_URL=own_redis.url)
    try:
        wait_until(lambda: LinkStatus.objects.filter(connected=True).exists(), 60, message="a link")
        wait_until(lambda: PbxUser.objects.count() >= len(sim.simulator.users), 60, message="the directory")
        with Load(web.post, key, sim.simulator.users[:10]) as load:
            load.wait_accepted(20)
            own_redis.restart()
            load.wait_accepted(len(load.accepted) + 20)  # and accepting after the restart
        assert load.refused == 0  # the API keeps accepting while Redis restarts (rate limits fail open)
        assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim)
    finally:
        web.stop()
        worker.stop()


@pytest.fixture
def restartable_postgres(transactional_db):
    """The suite's own PostgreSQL server (started by tests/services.py), which this test restarts."""
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass of make test (tests/services.py)")
    postgres = PostgresServer.attach()
    if postgres is None:
        pytest.skip("the PostgreSQL server was not started by tests/services.py; cannot restart it")
    return postgres


def test_a_postgresql_restart_loses_nothing(restartable_postgres, server, sim, key):
    postgres = restartable_postgres
    with Load(server.post, key, sim.simulator.users[:10]) as load:
        load.wait_accepted(20)
        postgres.restart()
        connection.close()  # this test's own connection died with the server
        load.wait_accepted(len(load.accepted) + 20)  # and accepting after the restart
    assert_nothing_lost_nothing_twice_newest_on_pbx(load, sim)
