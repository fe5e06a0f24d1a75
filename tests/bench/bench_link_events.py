"""How fast the link follows what happens elsewhere: a licence switched on by another process, and the
link holder dying.

- **Licence → subscription**: `runheartbeat` (the embedded default) runs; `manage.py licenseusers --on`
  in another process switches users on; the clock runs from the command's exit (its transaction is
  committed by then) until the simulator receives the SubscribePresence for every one of them.
  Target: within 1 s (issue 12: licence changes reach the worker from any process within 1 s).
- **Fail-over**: the scaled set-up (PostgreSQL, two `runpbxlink`); the holder is SIGKILLed; the clock
  runs until the other worker is logged in to the simulator and has subscribed every licensed user
  again (the simulator answers each subscription with the user's presence at once). Target: 10 s.

Both are wall-clock measurements on a possibly shared machine: the tests (`make test`) check that these
things happen, this script measures how fast.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from presence.pbx.simulator import generate_users
from tests.bench.harness import PYTHON, ROOT, Stack, pct, table, verdict

LICENCE_TARGET = 1.0
FAILOVER_TARGET = 10.0


def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def licence_rounds(rounds: int, per_round: int) -> list[float]:
    users = generate_users(rounds * per_round + 5)
    with Stack("licence", scaled=False, users=users) as stack:
        stack.prepare(licensed=0, seats=len(users))
        simulator = stack.start_simulator()
        stack.embedded()
        stack.wait_linked(120, subscriptions=0)
        wait_for(lambda: simulator.connections > 0, 60, "the link")
        time.sleep(2)  # the directory is replicated and the worker idles
        took = []
        for r in range(rounds):
            batch = users[r * per_round : (r + 1) * per_round]
            before = len(simulator.subscribe_log)
            # The command prints its one line after the switches are committed: time from that line, not
            # from the process's exit (its shutdown takes longer than the worker takes to notice).
            command = subprocess.Popen(
                [PYTHON, "manage.py", "licenseusers", "--on", *[u.h323 for u in batch]],
                cwd=ROOT,
                env=stack.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert command.stdout is not None
            said = command.stdout.readline()
            committed = time.monotonic()
            _, errors = command.communicate()
            if command.returncode != 0 or not said.startswith("Licence switched on"):
                raise RuntimeError(f"licenseusers failed ({command.returncode}): {said}{errors}")
            wanted = {u.guid for u in batch}
            done = wait_for(
                lambda wanted=wanted, before=before: wanted <= {g for _, g in simulator.subscribe_log[before:]},
                30,
                "the subscriptions",
            )
            took.append(done - committed)
            time.sleep(0.7)  # the next change lands at another point of the worker's poll
        return took


def failover_rounds(rounds: int, users: int) -> list[float]:
    with Stack("failover", scaled=True, users=generate_users(users)) as stack:
        stack.start_services()
        stack.prepare()
        simulator = stack.start_simulator()
        workers = [stack.worker(f"runpbxlink{n}") for n in (1, 2)]
        stack.wait_linked(120)
        took = []
        for _ in range(rounds):
            time.sleep(3)  # the holder renews its lease as usual before it dies
            logins = simulator.logins
            holder = _holder(stack, workers)
            before = len(simulator.subscribe_log)
            holder.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            holder.proc.wait(10)
            done = wait_for(
                lambda logins=logins, before=before: (
                    simulator.logins > logins and len({g for _, g in simulator.subscribe_log[before:]}) >= users
                ),
                60,
                "the take-over",
            )
            took.append(done - killed)
            holder.log.close()
            stack.procs.remove(holder)
            workers.remove(holder)
            workers.append(stack.worker(f"runpbxlink-after-{len(took)}"))
        return took


def _holder(stack: Stack, workers: list) -> object:
    done = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            "from presence.models import LinkStatus; print(LinkStatus.current().holder)",
        ],
        cwd=ROOT,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(done.stdout.strip().split(":")[1])
    return next(w for w in workers if w.pid == pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--licence-rounds", type=int, default=8)
    parser.add_argument("--failover-rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=200, help="licensed users in the fail-over runs")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)

    licence = licence_rounds(args.licence_rounds, per_round=2)
    failover = failover_rounds(args.failover_rounds, args.users)
    licence_ok = max(licence) <= LICENCE_TARGET
    failover_ok = max(failover) <= FAILOVER_TARGET
    table(
        "The link follows licence changes and fail-over",
        f"python -m tests.bench.bench_link_events {argv_text}".strip(),
        ["measure", "runs", "p50 s", "max s", "target s", "verdict"],
        [
            [
                "licenseusers (other process) → SubscribePresence, embedded",
                len(licence),
                f"{pct(licence, 50):.2f}",
                f"{max(licence):.2f}",
                f"{LICENCE_TARGET:g}",
                verdict(licence_ok),
            ],
            [
                f"holder SIGKILLed → other worker logged in, {args.users} users subscribed and reported",
                len(failover),
                f"{pct(failover, 50):.2f}",
                f"{max(failover):.2f}",
                f"{FAILOVER_TARGET:g}",
                verdict(failover_ok),
            ],
        ],
        [
            "Each run in seconds: licence "
            + ", ".join(f"{t:.2f}" for t in licence)
            + "; fail-over "
            + ", ".join(f"{t:.2f}" for t in failover)
            + "."
        ],
    )
    return 0 if licence_ok and failover_ok else 1


if __name__ == "__main__":
    sys.exit(main())
