"""Trigger → SetPresence on the wire: p50/p99 at a steady 300 triggers/s.

For each trigger: the wall-clock time the load generator started the POST, and the time the PBX
simulator received the SetPresence it caused (same machine, same clock). Users alternate logon and
shutdown so that every trigger changes presence (no `unchanged` skips); each user's k-th trigger
is matched with the k-th SetPresence for that user, and the numbers are kept only if every trigger
got exactly one. Runs on the scaled configuration unless `--config embedded`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from tests.bench.harness import OUTPUT, Stack, away_users, loadgen, pct, table, verdict

P50_TARGET_MS = 10.0
P99_TARGET_MS = 50.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--config", choices=["scaled", "embedded"], default="scaled")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load on other users first")
    parser.add_argument("--gunicorn-workers", type=int, default=(os.cpu_count() or 2) * 2)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    count = int(args.rate * args.seconds)
    warm_users = 300  # users of the warm-up only, after the measured ones
    users = away_users(args.users + warm_users)
    records = OUTPUT / f"latency-{args.config}.jsonl"
    OUTPUT.mkdir(parents=True, exist_ok=True)

    with Stack(f"latency-{args.config}", scaled=args.config == "scaled", users=users) as stack:
        stack.start_services()
        stack.prepare()
        stack.start_simulator()
        if args.config == "scaled":
            stack.worker()
            stack.wait_linked()
            _, port = stack.gunicorn(args.gunicorn_workers)
            server = "gunicorn + runpbxlink"
        else:
            _, port = stack.embedded()
            stack.wait_linked()
            server = "runheartbeat"
        time.sleep(3)
        # Warm-up at the same rate, on other users: the first requests of each server process open
        # connections and prepare statements, which is start-up, not the steady state measured here.
        warm = int(args.rate * args.warmup)
        target = ["--url", f"http://127.0.0.1:{port}/api/v1/triggers", "--key-file", str(stack.key_files[0])]
        shape = ["--rate", str(args.rate), "--count", str(warm), "--users", str(warm_users)]
        loadgen([*target, *shape, "--first-user", str(args.users), "--events", "logon,shutdown"])
        deadline = time.monotonic() + 30
        while stack.sim.simulator.set_presence_count < warm and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        stack.sim.simulator.set_times.clear()
        result = loadgen(
            [
                "--url",
                f"http://127.0.0.1:{port}/api/v1/triggers",
                "--key-file",
                str(stack.key_files[0]),
                "--rate",
                str(args.rate),
                "--count",
                str(count),
                "--users",
                str(args.users),
                "--events",
                "logon,shutdown",
                "--connections",
                str(args.connections),
                "--records",
                str(records),
            ]
        )
        deadline = time.monotonic() + 30
        while stack.sim.simulator.set_presence_count < count and time.monotonic() < deadline:
            time.sleep(0.2)
        set_times = {guid: list(times) for guid, times in stack.sim.simulator.set_times.items()}

    sent: dict[str, list[tuple[float, float]]] = {}
    for line in records.read_text().splitlines():
        started, user, status, took = json.loads(line)
        if status == 202:
            sent.setdefault(users[user].guid, []).append((started, took))
    latencies: list[float] = []
    accept_ms: list[float] = []  # POST start → 202 received
    after_ms: list[float] = []  # 202 received → SetPresence at the simulator (the link worker's part)
    unmatched = 0
    for guid, starts in sent.items():
        arrived = set_times.get(guid, [])
        starts.sort()
        if len(arrived) != len(starts):
            unmatched += abs(len(arrived) - len(starts))
        for (start, took), at in zip(starts, sorted(arrived), strict=False):
            latencies.append((at - start) * 1000)
            accept_ms.append(took * 1000)
            after_ms.append((at - start - took) * 1000)
    p50, p99 = pct(latencies, 50), pct(latencies, 99)
    ok = unmatched == 0 and p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS
    table(
        f"Trigger → SetPresence latency at {args.rate:g} triggers/s for {args.seconds:g} s ({args.config})",
        f"python -m tests.bench.bench_latency {argv_text}".strip(),
        [
            "server",
            "triggers",
            "accepted",
            "SetPresence",
            "unmatched",
            "p50 ms",
            "p99 ms",
            "max ms",
            "of which accept p50/p99 ms",
            "after the 202 p50/p99 ms",
        ],
        [
            [
                server,
                count,
                result["statuses"].get("202", 0),
                sum(len(v) for v in set_times.values()),
                unmatched,
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{max(latencies) if latencies else float('nan'):.1f}",
                f"{pct(accept_ms, 50):.1f} / {pct(accept_ms, 99):.1f}",
                f"{pct(after_ms, 50):.1f} / {pct(after_ms, 99):.1f}",
            ]
        ],
        [
            f"Targets: p50 ≤ {P50_TARGET_MS:g} ms, p99 ≤ {P99_TARGET_MS:g} ms, every trigger applied once. "
            f"Result: {verdict(ok)}. load avg {result['load']}."
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
