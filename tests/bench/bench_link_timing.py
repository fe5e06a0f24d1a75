"""How fast the PBX link reacts: the speed claims that `make test` no longer asserts.

    python -m tests.bench.bench_link_timing [--repeat 20] [--directory 5000]

The tests in tests/presence/pbx check what the link does, with generous hang guards; how fast it
does it is measured here, each scenario `--repeat` times, against the limit the tests used to
assert (the old limit is the target). The client and the simulator share one event loop, as in
those tests, so a round trip includes both ends' work. The 5,000-user initial load runs 3 times.

| scenario | measured | target (the old assertion) |
|---|---|---|
| refused while not connected | `set_presence` call → ConnectionLost | < 50 ms |
| waiters of a dropped socket | `drop_all` → all 20 waiters failed | < 0.5 s |
| request timeout | call → RequestTimeout, `request_timeout` 0.3 s, answer after 0.6 s | 0.25–0.6 s |
| back after the PBX was away | `come_back` (after 2 refused connects) → logged in | < 3 s |
| back-off starts over | `drop_all` after a good login (5 refusals before, 0.1 s minimum) → logged in | < 0.6 s |
| live update / add / delete | simulator change → the owner's callback | < 1 s each |
| phone presence change | simulator change → the owner's `on_presence` | < 1 s |
| initial load | 5,000 users, client start → end of the initial load | < 20 s |

This is not a test: it prints a table and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from presence.pbx import ConnectionLost, RequestTimeout
from presence.pbx.simulator import SimUser, generate_users
from tests.bench.harness import table, verdict
from tests.presence.pbx import running_client, simulator


async def until(predicate: Callable[[], bool], timeout: float = 60.0) -> float:
    """Polls every millisecond; returns time.perf_counter() when `predicate` first held."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the benchmark's condition never came true")
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def refused_while_not_connected() -> float:
    async with simulator() as sim:
        url = sim.url
    async with running_client(url) as (client, _):
        await until(lambda: "cannot reach" in client.state().last_error)
        started = time.perf_counter()
        try:
            await client.set_presence(guid="00" * 16, activity="away", note="")
        except ConnectionLost:
            return time.perf_counter() - started
    raise AssertionError("set_presence did not refuse")


async def waiters_of_a_dropped_socket() -> float:
    users = generate_users(20)
    async with simulator(users) as sim, running_client(sim.url, request_timeout=600) as (client, _):
        await client.wait_connected(timeout=60)
        sim.reply_delay = 600
        calls = [asyncio.create_task(client.set_presence(guid=u.guid, activity="away", note="")) for u in users]
        await until(lambda: client.state().in_flight == 20)
        started = time.perf_counter()
        await sim.drop_all()
        await asyncio.gather(*calls, return_exceptions=True)
        return time.perf_counter() - started


async def request_timeout() -> float:
    users = generate_users(1)
    async with simulator(users) as sim, running_client(sim.url, request_timeout=0.3) as (client, _):
        await client.wait_connected(timeout=60)
        sim.reply_delay = 0.6
        started = time.perf_counter()
        try:
            await client.set_presence(guid=users[0].guid, activity="away", note="slow")
        except RequestTimeout:
            return time.perf_counter() - started
    raise AssertionError("no RequestTimeout")


async def back_after_the_pbx_was_away() -> float:
    async with simulator(generate_users(3)) as sim, running_client(sim.url) as (client, _):
        await client.wait_connected(timeout=60)
        await sim.go_down()
        await until(lambda: client.state().reconnects >= 2)
        started = time.perf_counter()
        await sim.come_back()
        return await until(lambda: client.connected) - started


async def backoff_starts_over() -> float:
    async with simulator() as sim, running_client(sim.url, backoff_min=0.1, backoff_max=6.4) as (client, _):
        sim.refuse_logins = True
        await until(lambda: sim.login_attempts >= 5)
        sim.refuse_logins = False
        await until(lambda: client.connected)
        started = time.perf_counter()
        await sim.drop_all()
        await until(lambda: not client.connected)
        return await until(lambda: client.connected) - started


async def live_changes() -> tuple[float, float, float]:
    users = generate_users(3)
    async with simulator(users) as sim, running_client(sim.url) as (_, events):
        await until(lambda: events.initial_loads == 1)
        started = time.perf_counter()
        await sim.update_user(users[0].guid, dn="User Zero")
        update = await until(lambda: events.users[users[0].guid]["dn"] == "User Zero") - started
        newcomer = SimUser(guid="ab" * 16, h323="newbie", cn="Newbie", e164="3000")
        started = time.perf_counter()
        await sim.add_user(newcomer)
        add = await until(lambda: newcomer.guid in events.users) - started
        started = time.perf_counter()
        await sim.delete_user(users[2].guid)
        delete = await until(lambda: events.deleted == [users[2].guid]) - started
        return update, add, delete


async def phone_presence_change() -> float:
    users = generate_users(1)
    guid = users[0].guid
    async with simulator(users) as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({guid: users[0].h323})
        await until(lambda: guid in events.presence)
        started = time.perf_counter()
        await sim.set_presence_from_phone(guid, "busy", "On a call")
        return await until(lambda: events.presence[guid][0]["activity"] == "busy") - started


async def initial_load(users: int) -> float:
    async with simulator(generate_users(users)) as sim:
        started = time.perf_counter()
        async with running_client(sim.url) as (_, events):
            return await until(lambda: events.initial_loads == 1, timeout=300) - started


async def measure(repeat: int, directory: int) -> list[tuple[str, list[float], float, float]]:
    """(scenario, seconds per run, lowest allowed, highest allowed)."""

    async def runs(scenario: Callable[[], Awaitable[float]], times: int) -> list[float]:
        return [await scenario() for _ in range(times)]

    changes = [await live_changes() for _ in range(repeat)]
    return [
        ("refused while not connected", await runs(refused_while_not_connected, repeat), 0.0, 0.05),
        ("waiters of a dropped socket (20)", await runs(waiters_of_a_dropped_socket, repeat), 0.0, 0.5),
        ("request timeout (0.3 s)", await runs(request_timeout, repeat), 0.25, 0.6),
        ("back after the PBX was away", await runs(back_after_the_pbx_was_away, repeat), 0.0, 3.0),
        ("back-off starts over after a good login", await runs(backoff_starts_over, repeat), 0.0, 0.6),
        ("live update → owner", [c[0] for c in changes], 0.0, 1.0),
        ("live add → owner", [c[1] for c in changes], 0.0, 1.0),
        ("live delete → owner", [c[2] for c in changes], 0.0, 1.0),
        ("phone presence change → owner", await runs(phone_presence_change, repeat), 0.0, 1.0),
        (f"initial load of {directory:,} users", await runs(lambda: initial_load(directory), 3), 0.0, 20.0),
    ]


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs per scenario (default 20)")
    parser.add_argument("--directory", type=int, default=5000, help="users in the initial-load run (default 5000)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.CRITICAL)  # the scenarios' refused logins and drops are expected
    results = asyncio.run(measure(args.repeat, args.directory))
    rows, missed = [], []
    for scenario, seconds, lowest, highest in results:
        ok = lowest <= min(seconds) and max(seconds) < highest
        if not ok:
            missed.append(scenario)
        target = f"{milliseconds(lowest)}–{milliseconds(highest)}" if lowest else f"< {milliseconds(highest)}"
        rows.append(
            [
                scenario,
                len(seconds),
                milliseconds(statistics.median(seconds)),
                milliseconds(max(seconds)),
                target,
                verdict(ok),
            ]
        )
    table(
        "PBX link reaction times (client and simulator on one loop)",
        ("python -m tests.bench.bench_link_timing " + " ".join(sys.argv[1:] if argv is None else argv)).strip(),
        ["scenario", "runs", "p50 ms", "max ms", "target ms", "verdict"],
        rows,
        [f"Missed: {', '.join(missed)}." if missed else "Every target met."],
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
