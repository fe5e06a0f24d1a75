"""Logon storm: 20,000 users' logon triggers within 60 s → time until all are applied on the PBX, and how
many were lost (must be 0).

The users' phones show "away" (computers off overnight), so every logon must become a SetPresence
to "available" on the simulator. The load generator posts at a steady rate (open loop, so a slow
server shows as latency, not as a slower storm); the clock runs from the first POST until the
simulator shows every user available. Runs on the scaled configuration (PostgreSQL, Redis,
gunicorn for the API, one `runpbxlink`) unless `--config embedded`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.bench.harness import Stack, away_users, loadgen, table, verdict

TARGET_SECONDS = 90.0


def available_count(stack: Stack) -> int:
    simulator = stack.sim.simulator

    async def count() -> int:
        return sum(
            1
            for user in simulator.users
            if any(p.get("contact") == "tel:" and not p.get("activity") for p in user.presence)
        )

    return stack.sim.call(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--within", type=float, default=60.0, help="seconds over which the logons arrive")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--config", choices=["scaled", "embedded"], default="scaled")
    parser.add_argument("--gunicorn-workers", type=int, default=(os.cpu_count() or 2) * 2)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)

    with Stack(f"storm-{args.config}", scaled=args.config == "scaled", users=away_users(args.users)) as stack:
        stack.start_services()
        stack.prepare()
        stack.start_simulator()
        if args.config == "scaled":
            stack.worker()
            sync = stack.wait_linked(args.timeout)
            _, port = stack.gunicorn(args.gunicorn_workers)
            server = "gunicorn + runpbxlink"
        else:
            _, port = stack.embedded()
            sync = stack.wait_linked(args.timeout)
            server = "runheartbeat"
        time.sleep(3)  # let the initial PresenceUpdates settle
        before = stack.sim.simulator.set_presence_count
        started = time.monotonic()
        rate = args.users / args.within
        result = loadgen(
            [
                "--url",
                f"http://127.0.0.1:{port}/api/v1/triggers",
                "--key-file",
                str(stack.key_files[0]),
                "--rate",
                f"{rate:.3f}",
                "--count",
                str(args.users),
                "--users",
                str(args.users),
                "--events",
                "logon",
                "--connections",
                str(args.connections),
            ]
        )
        posted = time.monotonic() - started
        applied = available_count(stack)
        while applied < args.users and time.monotonic() - started < args.timeout:
            time.sleep(0.5)
            applied = available_count(stack)
        took = time.monotonic() - started
        if applied < args.users:
            # Out of time: let the link finish what it has, so that "lost" means lost, not "late".
            quiet_since, last = time.monotonic(), stack.sim.simulator.set_presence_count
            while time.monotonic() - quiet_since < 10:
                time.sleep(1)
                if stack.sim.simulator.set_presence_count != last:
                    quiet_since, last = time.monotonic(), stack.sim.simulator.set_presence_count
            late = available_count(stack)
        else:
            late = applied
        set_presences = stack.sim.simulator.set_presence_count - before

    accepted = result["statuses"].get("202", 0)
    lost = accepted - late
    ok = accepted == args.users and lost == 0 and took <= TARGET_SECONDS
    table(
        f"Logon storm: {args.users:,} users' logons within {args.within:g} s ({args.config})",
        f"python -m tests.bench.bench_storm {argv_text}".strip(),
        ["server", "posted in s", "accepted", "accept p50/p99 ms", "all applied after s", "applied in the end", "lost"],
        [
            [
                server,
                f"{posted:.1f}",
                f"{accepted:,} of {args.users:,}",
                f"{result['p50_ms']} / {result['p99_ms']}",
                f"{took:.1f}" if applied >= args.users else f"not within {args.timeout:g} s ({applied:,} by then)",
                f"{late:,} ({set_presences:,} SetPresence)",
                f"{lost:,}",
            ]
        ],
        [
            f"Target: all applied within {TARGET_SECONDS:g} s of the first POST, 0 lost. Result: {verdict(ok)}. "
            f"Directory sync and subscriptions before the storm: {sync:.1f} s. Other answers: "
            f"{ {k: v for k, v in result['statuses'].items() if k != '202'} or 'none' }; load avg {result['load']}.",
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
