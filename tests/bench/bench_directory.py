"""Directory sync of 50,000 users: time, the worker's RSS, the admin's PbxUser search over them, and
how fast a live change on the PBX reaches the directory.

`runpbxlink` (scaled configuration: PostgreSQL + Redis) replicates a simulator with `--users` users;
the sync time is the worker's own "directory synced" log line (replication start → last row
stored), the RSS its peak resident set (VmHWM). The admin search is the PbxUser changelist with
`?q=` for a login, a name, a number and an e-mail, as a signed-in superuser would get it (the view
rendered in a process of its own against the same database; the best of 3 per query). A live change
is the simulator renaming a user (ReplicateUpdate) until the row shows the new name, read by a
process of its own polling the database every 5 ms; `--changes` of them, one after the other.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import subprocess
import sys
import time

from presence.pbx.simulator import generate_users
from tests.bench.harness import PYTHON, ROOT, Stack, table, verdict

SYNC_TARGET = 60.0
RSS_TARGET = 200.0
SEARCH_TARGET_MS = 200.0
LIVE_CHANGE_TARGET_MS = 1000.0  # was asserted by tests/e2e/test_directory_sync.py
SYNCED = re.compile(r"directory synced: (\d+) users in ([0-9.]+) s")


def search_timings(queries: list[str]) -> dict[str, float]:
    """Runs inside the benchmark's environment (`--search` mode): ms per changelist search, best of 3."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    client.get("/admin/presence/pbxuser/")  # warm: templates, permissions, connection
    timings = {}
    for query in queries:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            response = client.get("/admin/presence/pbxuser/", {"q": query})
            best = min(best, time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"admin search {query!r} answered {response.status_code}")
        timings[query] = round(best * 1000, 1)
    return timings


def watch_changes() -> None:
    """Runs inside the benchmark's environment (`--watch` mode): for each "guid<TAB>name" line read,
    prints the time.time() at which PbxUser `guid` first shows `name` as its cn."""
    import django

    django.setup()
    from presence.models import PbxUser

    print("ready", flush=True)
    for line in sys.stdin:
        guid, name = line.rstrip("\n").split("\t")
        while not PbxUser.objects.filter(guid=guid, cn=name).exists():
            time.sleep(0.005)
        print(time.time(), flush=True)


def live_changes(stack: Stack, count: int) -> list[float]:
    """Renames `count` users on the simulator one after the other; ms until each shows in the directory."""
    assert stack.sim is not None
    simulator = stack.sim.simulator
    watcher = subprocess.Popen(
        [PYTHON, "-m", "tests.bench.bench_directory", "--watch"],
        cwd=ROOT,
        env=stack.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdin is not None and watcher.stdout is not None
    try:
        if watcher.stdout.readline().strip() != "ready":
            raise RuntimeError("the directory watcher did not start")
        took = []
        for n in range(count):
            user = stack.users[(n * 7919) % len(stack.users)]
            name = f"Renamed {n} {user.h323}"
            watcher.stdin.write(f"{user.guid}\t{name}\n")
            watcher.stdin.flush()
            started = time.time()
            stack.sim.call(functools.partial(simulator.update_user, user.guid, cn=name))
            took.append((float(watcher.stdout.readline()) - started) * 1000)
        return took
    finally:
        watcher.kill()
        watcher.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--licensed", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--changes", type=int, default=20, help="live changes to time (default 20)")
    parser.add_argument("--search", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--watch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.search is not None:
        print(json.dumps(search_timings(args.search)))
        return 0
    if args.watch:
        watch_changes()
        return 0
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)

    users = generate_users(args.users)
    with Stack("directory", scaled=True, users=users) as stack:
        stack.start_services()
        stack.prepare(licensed=args.licensed)
        stack.start_simulator()
        started = time.monotonic()
        worker = stack.worker()
        synced = None
        while time.monotonic() - started < args.timeout and synced is None:
            time.sleep(0.25)
            synced = SYNCED.search(worker.log_path.read_text(errors="replace"))
            if not worker.alive():
                raise RuntimeError(f"runpbxlink exited; see {worker.log_path}")
        wall = time.monotonic() - started
        stack.wait_linked(60, subscriptions=args.licensed)
        rss_now, rss_peak = worker.rss_mb(), worker.peak_rss_mb()
        n = args.users * 7 // 10
        queries = [f"user{n}", f"User {n}", str(1000 + n), f"user{n}@example.com", "nobody-by-that-name"]
        done = subprocess.run(
            [PYTHON, "-m", "tests.bench.bench_directory", "--search", *queries],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        timings = json.loads(done.stdout.strip().splitlines()[-1])
        changes = live_changes(stack, args.changes)

    sync_seconds = float(synced.group(2)) if synced else float("nan")
    worst = max(timings.values())
    change_p50, change_max = statistics.median(changes), max(changes)
    ok = (
        synced is not None
        and sync_seconds <= SYNC_TARGET
        and rss_peak <= RSS_TARGET
        and worst <= SEARCH_TARGET_MS
        and change_max <= LIVE_CHANGE_TARGET_MS
    )
    table(
        f"Directory sync of {args.users:,} users (scaled: PostgreSQL + Redis, runpbxlink)",
        f"python -m tests.bench.bench_directory {argv_text}".strip(),
        [
            "users synced",
            "sync s (worker log)",
            "start → synced s",
            "worker RSS now / peak MB",
            "admin search ms",
            "live change p50 / max ms",
        ],
        [
            [
                synced.group(1) if synced else "not synced",
                f"{sync_seconds:.1f}",
                f"{wall:.1f}",
                f"{rss_now:.0f} / {rss_peak:.0f}",
                ", ".join(f"{q!r}: {ms}" for q, ms in timings.items()),
                f"{change_p50:.1f} / {change_max:.1f} ({len(changes)} changes)",
            ]
        ],
        [
            f"Targets: sync ≤ {SYNC_TARGET:g} s, RSS ≤ {RSS_TARGET:g} MB, search ≤ {SEARCH_TARGET_MS:g} ms, "
            f"live change ≤ {LIVE_CHANGE_TARGET_MS:g} ms. "
            f"Result: {verdict(ok)}."
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
