"""Benchmark of the PBX link alone: SetPresence over one connection against the simulator.

    python -m tests.bench.bench_pbx_link [--count 20000] [--windows 1,16,64,256] [--rate 300] [--duration 10]

Two measurements, both over one logged-in AppWebsocket, the client exactly as the worker uses it:
- throughput: `--count` SetPresence fired at once, at most `window` in flight (pipelined), for each
  window in `--windows`; window 1 is "one at a time, wait for each result" as the reference suggests
  for a cautious start (§6 "Throughput");
- latency: SetPresence at a fixed `--rate` per second for `--duration` seconds (open loop: each
  request is sent on schedule, whatever the previous ones do); round trip from the call to the
  result, p50/p99/max.
The client's CPU time per request (simulator in its own process) is shown too: unlike the rates, it
hardly depends on what else the machine is doing.

The simulator runs in a process of its own (like a PBX on another machine) unless `--same-process`.
This is not a test: it prints a table (and `--json` writes the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import platform
import statistics
import sys
import time
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import websockets

from presence.pbx import LinkConfig, PbxClient
from presence.pbx.simulator import PbxSimulator, generate_users

APP = "benchbridge"
PASSWORD = "bench-secret"  # the simulator's throwaway secret


class _Quiet:
    """PbxEvents that only notes the end of the initial replication."""

    def __init__(self) -> None:
        self.loaded = asyncio.Event()

    async def on_connected(self) -> None:
        pass

    async def on_disconnected(self, reason: str) -> None:
        pass

    async def on_users(self, rows: list[dict], *, initial_done: bool) -> None:
        if initial_done:
            self.loaded.set()

    async def on_user_deleted(self, guid: str) -> None:
        pass

    async def on_presence(self, guid: str, presence: list[dict], state: dict | None) -> None:
        pass


def _simulator_process(users: int, urls: Any, stop: ProcessEvent) -> None:
    async def main() -> None:
        simulator = PbxSimulator(app=APP, password=PASSWORD, users=generate_users(users))
        await simulator.start()
        urls.put(simulator.url)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await simulator.stop()

    logging.getLogger("websockets").setLevel(logging.WARNING)
    asyncio.run(main())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def throughput(client: PbxClient, guids: list[str], count: int) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(
        *(client.set_presence(guid=guids[i % len(guids)], activity="away", note=f"bench {i}") for i in range(count))
    )
    seconds = time.perf_counter() - started
    cpu_us = (time.process_time() - cpu) / count * 1e6
    return {"requests": count, "seconds": seconds, "per_second": count / seconds, "client_cpu_us": cpu_us}


async def latency(client: PbxClient, guids: list[str], rate: float, duration: float) -> dict:
    count = int(rate * duration)
    rtts: list[float] = []
    behind = 0.0

    async def one(i: int) -> None:
        sent = time.perf_counter()
        await client.set_presence(guid=guids[i % len(guids)], activity="busy" if i % 2 else "", note=f"lat {i}")
        rtts.append(time.perf_counter() - sent)

    tasks = []
    started = time.perf_counter()
    for i in range(count):
        due = started + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            behind = max(behind, -wait)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    return {
        "requests": count,
        "seconds": seconds,
        "per_second": count / seconds,
        "p50_ms": percentile(rtts, 0.50) * 1000,
        "p99_ms": percentile(rtts, 0.99) * 1000,
        "max_ms": max(rtts) * 1000,
        "mean_ms": statistics.fmean(rtts) * 1000,
        "schedule_slip_ms": behind * 1000,
    }


async def run_benchmark(
    url: str, *, users: int, count: int, windows: list[int], rate: float, duration: float
) -> list[dict]:
    guids = [user.guid for user in generate_users(users)]
    rows = []
    for window in windows:
        events = _Quiet()
        client = PbxClient(LinkConfig(url=url, app=APP, password=PASSWORD, window=window), events)
        runner = asyncio.create_task(client.run())
        try:
            if not await client.wait_connected(timeout=10):
                raise SystemExit(f"could not log in to the simulator at {url}: {client.state().last_error}")
            await asyncio.wait_for(events.loaded.wait(), timeout=60)  # replication off the measured path
            await throughput(client, guids, min(count, 500))  # warm-up
            result = await throughput(client, guids, count)
            rows.append({"scenario": f"pipelined, window {window}", "window": window, **result})
            if window == max(windows):
                result = await latency(client, guids, rate, duration)
                rows.append({"scenario": f"fixed rate {rate:g}/s, window {window}", "window": window, **result})
        finally:
            await client.stop()
            await runner
    return rows


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    columns = ("scenario", "requests", "seconds", "SetPresence/s", "p50 ms", "p99 ms", "max ms", "client CPU/req")
    widths = (34, 9, 8, 14, 8, 8, 8, 15)
    print(
        "  ".join(
            name.ljust(w) if i == 0 else name.rjust(w) for i, (name, w) in enumerate(zip(columns, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for row in rows:
        values = [
            row["scenario"],
            str(row["requests"]),
            f"{row['seconds']:.2f}",
            f"{row['per_second']:,.0f}",
            f"{row['p50_ms']:.2f}" if "p50_ms" in row else "",
            f"{row['p99_ms']:.2f}" if "p99_ms" in row else "",
            f"{row['max_ms']:.2f}" if "max_ms" in row else "",
            f"{row['client_cpu_us']:.0f} µs" if "client_cpu_us" in row else "",
        ]
        print(
            "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000, help="SetPresence per throughput run (default 20000)")
    parser.add_argument("--windows", default="1,16,64,256", help="windows to measure, comma-separated")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second for the latency run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the latency run")
    parser.add_argument("--users", type=int, default=1000, help="simulated PBX users (default 1000)")
    parser.add_argument("--same-process", action="store_true", help="run the simulator on the client's loop")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    windows = [int(w) for w in args.windows.split(",") if w.strip()]
    logging.basicConfig(level=logging.WARNING)

    async def in_process() -> list[dict]:
        simulator = PbxSimulator(app=APP, password=PASSWORD, users=generate_users(args.users))
        await simulator.start()
        try:
            return await run_benchmark(
                simulator.url,
                users=args.users,
                count=args.count,
                windows=windows,
                rate=args.rate,
                duration=args.duration,
            )
        finally:
            await simulator.stop()

    if args.same_process:
        where = "simulator on the same event loop"
        rows = asyncio.run(in_process())
    else:
        where = "simulator in its own process"
        context = multiprocessing.get_context("spawn")
        urls, stop = context.Queue(), context.Event()
        process = context.Process(target=_simulator_process, args=(args.users, urls, stop), daemon=True)
        process.start()
        try:
            url = urls.get(timeout=30)
            rows = asyncio.run(
                run_benchmark(
                    url, users=args.users, count=args.count, windows=windows, rate=args.rate, duration=args.duration
                )
            )
        finally:
            stop.set()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()

    header = (
        f"PBX link: SetPresence over one AppWebsocket, ws:// on 127.0.0.1, {where}\n"
        f"Python {platform.python_version()}, websockets {websockets.__version__}, "
        f"{multiprocessing.cpu_count()} CPU(s), {platform.machine()}\n"
    )
    print_table(rows, header)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"where": where, "rows": rows}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
