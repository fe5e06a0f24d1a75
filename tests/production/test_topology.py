"""The production set-up end to end, through nginx over HTTPS, as computers, people and an operator use it.

Each test talks to nginx only (https://localhost:<port>, trusting the suite's CA), except where an
operator would look elsewhere: psql for the trigger log, the PBX (simulator) for what it shows.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from websockets.sync.client import connect

from tests.e2e.stack import wait_until
from tests.production.client import Client
from tests.production.conftest import OUTPUT, Installation

pytestmark = pytest.mark.production


def trigger_status(client: Client, key: str, trigger_id: int) -> str:
    answer = client.get(f"/api/v1/triggers/{trigger_id}", {"Authorization": f"Bearer {key}"})
    assert answer.status == 200, (answer.status, answer.text)
    return answer.json()["status"]


def accepted_triggers(text: str) -> float:
    """The sum of heartbeat_triggers_total{…,outcome="202"} in a Prometheus text."""
    return sum(float(v) for v in re.findall(r'^heartbeat_triggers_total\{[^}]*outcome="202"[^}]*\} (\S+)$', text, re.M))


def test_a_trigger_posted_through_nginx_is_applied_on_the_pbx(installation: Installation):
    client = installation.client()
    answer = client.post_trigger(installation.api_key, {"user": "user1", "event": "lock", "device": "PC-1"})
    assert answer.status == 202, answer.text
    trigger_id = answer.json()["id"]
    wait_until(lambda: trigger_status(client, installation.api_key, trigger_id) == "applied", 60, 0.2, "applied")
    shown = installation.sim.simulator.presence_of("user1")
    assert shown["activity"] == "away" and shown["note"].startswith("Screen locked since ")


def test_the_trigger_log_shows_the_address_nginx_saw_not_one_the_client_wrote(installation: Installation):
    client = installation.client(source="127.0.0.3")
    answer = client.post_trigger(
        installation.api_key, {"user": "user2", "event": "logon"}, {"X-Forwarded-For": "203.0.113.7"}
    )
    assert answer.status == 202, answer.text
    rows = installation.sql("SELECT host(source_ip) FROM triggers_trigger WHERE id = %s", (answer.json()["id"],))
    assert rows == [("127.0.0.3",)]


def test_an_administrator_signs_in_and_switches_a_licence_on_through_nginx(installation: Installation):
    client = installation.client()
    refused = client.post_trigger(installation.api_key, {"user": "bob", "event": "lock"})
    assert refused.status == 403 and refused.json()["error"] == "not_licensed", refused.text

    client.admin_login("admin", installation.admin_password)
    switched = client.licence_switch("bob", True)
    assert switched.status == 200 and switched.json()["ok"] is True and switched.json()["on"] is True, switched.text

    accepted = client.post_trigger(installation.api_key, {"user": "bob", "event": "lock"})
    assert accepted.status == 202, accepted.text
    seats = installation.sql(
        "SELECT count(*) FROM licensing_seat s JOIN presence_pbxuser u ON u.guid = s.user_guid WHERE u.h323 = 'bob'"
    )
    assert seats == [(1,)]


def test_the_user_page_websocket_shows_a_change_live_through_nginx(installation: Installation):
    client = installation.client()
    client.admin_login("admin", installation.admin_password)
    assert client.licence_switch("admin", True).status == 200  # the admin is PBX user `admin` too
    assert client.get("/").status == 200  # the user page itself

    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    with connect(
        f"wss://localhost:{installation.https_port}/ws/presence/",
        ssl=client.context,
        origin=client.origin,
        additional_headers={"Cookie": cookies},
        proxy=None,  # straight to nginx, whatever proxy the environment names
        open_timeout=30,
    ) as socket:
        first = socket.recv(timeout=30)
        assert '"activity"' in first, first
        answer = client.post_trigger(installation.api_key, {"user": "admin", "event": "lock"})
        assert answer.status == 202, answer.text
        deadline = time.monotonic() + 60
        while True:
            message = socket.recv(timeout=max(1.0, deadline - time.monotonic()))
            if "Screen locked since" in message:
                break
            assert time.monotonic() < deadline, f"no live update, last message {message}"


def accepted_per_worker(installation: Installation) -> dict[str, float]:
    """Each gunicorn worker's own count of accepted triggers, from its file in the multiprocess directory."""
    counts = {}
    for path in (installation.runtime_dir / "heartbeat-api").glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            if metric.name == "heartbeat_triggers":
                counts[path.name] = sum(
                    s.value for s in metric.samples if s.name.endswith("_total") and s.labels.get("outcome") == "202"
                )
    return counts


def test_metrics_through_nginx_count_the_triggers_of_every_gunicorn_worker(installation: Installation):
    client = installation.client()
    per_worker_before = accepted_per_worker(installation)
    before = client.get("/metrics")
    assert before.status == 200 and before.headers["Content-Type"].startswith("text/plain"), before.status
    users = [f"user{i}" for i in range(4, 24)]

    def post(n: int) -> int:
        return (
            installation.client().post_trigger(installation.api_key, {"user": users[n % 20], "event": "logon"}).status
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(40)))
    assert statuses.count(202) == 40, statuses

    # Whichever worker answers the scrape, it reports the sum of all of them.
    for _ in range(6):
        after = client.get("/metrics")
        assert accepted_triggers(after.text) - accepted_triggers(before.text) == 40
    # ...which no single worker knows: the triggers were accepted by more than one (each keeps its own count).
    per_worker = accepted_per_worker(installation)
    counted_by = {name for name, n in per_worker.items() if n > per_worker_before.get(name, 0)}
    assert len(counted_by) >= 2, f"the triggers reached one gunicorn worker only: {per_worker}"
    assert sum(per_worker.values()) - sum(per_worker_before.values()) == 40
    assert "heartbeat_pbx_link_up 1.0" in after.text


def test_metrics_are_refused_to_addresses_the_guide_does_not_allow(installation: Installation):
    outsider = installation.client(source="127.0.0.2")
    refused = outsider.get("/metrics")
    assert refused.status == 403
    assert "heartbeat_" not in refused.text
    assert outsider.get("/healthz").status == 200  # nginx refuses only /metrics to it


def test_healthz_answers_the_load_balancer_and_plain_http_is_redirected(installation: Installation):
    health = installation.client().get("/healthz")
    assert health.status == 200 and health.json()["status"] == "ok"
    plain = Client("localhost", installation.http_port, installation.certificates.ca_file, scheme="http")
    redirect = plain.get("/healthz")
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://localhost:{installation.https_port}/healthz"


def test_nginx_serves_the_static_files_collectstatic_wrote(installation: Installation):
    css = installation.client().get("/static/admin/css/base.css")
    assert css.status == 200 and css.headers["Content-Type"] == "text/css"
    assert css.body == (installation.state_dir / "static" / "admin" / "css" / "base.css").read_bytes()


def test_killing_the_link_holder_hands_over_with_nothing_lost(installation: Installation):
    """SIGKILL the worker holding the PBX link under load: the other takes over; every accepted trigger ends
    decided and each user shows their newest event. The hand-over time is reported, not asserted here
    (the wall clock is the benchmarks' business): test-output/production/timings.txt."""
    holder = installation.link_holder_pid()
    victim = next(u for u in installation.units.values() if u.pid == holder)
    users = [f"user{i}" for i in range(20)]  # one trigger per user every 4 s: far below the per-user rate limit
    accepted: list[tuple[int, str, str, dt.datetime]] = []
    stop = threading.Event()

    def load() -> None:
        client, n, start = installation.client(), 0, dt.datetime.now(dt.UTC)
        while not stop.is_set():
            user, event = users[n % 20], ("lock", "logon")[(n // 20) % 2]
            at = start + dt.timedelta(milliseconds=10 * n)
            answer = client.post_trigger(installation.api_key, {"user": user, "event": event, "at": at.isoformat()})
            if answer.status == 202:
                accepted.append((answer.json()["id"], user, event, at))
            n += 1
            time.sleep(0.2)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(accepted) >= 5, 60, message="load before the kill")
        victim.kill()
        killed_at = time.monotonic()
        wait_until(lambda: installation.link_holder_pid() not in (None, holder), 120, 0.1, "the other worker's link")
        took_over = time.monotonic() - killed_at
        count = len(accepted)
        wait_until(lambda: len(accepted) >= count + 5, 60, message="load after the hand-over")
    finally:
        stop.set()
        thread.join(60)
    with open(OUTPUT / "timings.txt", "a") as timings:
        timings.write(f"link hand-over after SIGKILL of the holder: {took_over:.1f} s\n")
    print(f"\nlink hand-over after SIGKILL of the holder: {took_over:.1f} s")

    ids = [a[0] for a in accepted]
    wait_until(
        lambda: not installation.sql("SELECT 1 FROM triggers_trigger WHERE id = ANY(%s) AND status = 'queued'", (ids,)),
        120,
        0.5,
        "every accepted trigger to be decided",
    )
    statuses = dict(installation.sql("SELECT id, status FROM triggers_trigger WHERE id = ANY(%s)", (ids,)))
    assert len(statuses) == len(ids), "an accepted trigger is missing from the log"
    assert set(statuses.values()) <= {"applied", "skipped", "superseded"}, set(statuses.values())
    newest = {}
    for _id, user, event, at in accepted:
        if user not in newest or at > newest[user][1]:
            newest[user] = (event, at)
    for user, (event, _at) in newest.items():
        shown = installation.sim.simulator.presence_of(user)
        assert shown["activity"] == ("away" if event == "lock" else ""), (user, event, shown)
