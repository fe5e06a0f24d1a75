"""A small HTTP/1.1 load generator: raw asyncio streams, keep-alive, many connections, one process.

Run it in its own process (`python -m tests.bench.loadgen …`) so that it competes with the server
for the CPU only as much as a real client would. wrk is not on this machine; this is the part of
wrk the benchmarks need:

- closed loop (`--duration`): C connections each send the next request as soon as the previous
  answer is in — the server's throughput;
- open loop (`--rate`, `--count`): requests are started on a schedule whatever the answers do — a
  storm, or a steady 300 triggers/s for latency. Latency is measured from the scheduled start, so a
  server that falls behind shows it (no coordinated omission).

Connections follow `Connection: close` (gunicorn's sync workers close after every answer) by
reconnecting. `--url` may be given several times: connections are spread over them (client-side
balancing over several server processes). The API key is read from `--key-file` and never printed.

Bodies: `--users N --events logon,shutdown` posts `{"user": "user<i>", "event": …}` for i cycling over
N users; each user's events take turns. The summary (JSON on stdout) has requests, answers by
status, throughput and latency percentiles; `--records FILE` writes one line per request
(`wall-clock start, user index, status, latency`) for benchmarks that match requests to effects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Target:
    host: str
    port: int
    path: str


@dataclass
class Result:
    started: list[float] = field(default_factory=list)  # wall clock (time.time) of each request's start
    users: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # 0: connection error
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: dict[str, int] = field(default_factory=dict)
    unmeasured: int = 0  # warm-up requests: sent, not in the numbers


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


class Connection:
    """One keep-alive HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, target: Target, headers: bytes):
        self.target = target
        self.headers = headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.target.host, self.target.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, body: bytes) -> int:
        """Sends one request and reads the whole answer; returns the status code."""
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                await self._connect()
            assert self.reader is not None and self.writer is not None
            head = f"{method} {self.target.path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode()
            self.writer.write(head + self.headers + body)
            try:
                status, keep = await self._read_answer()
            except (asyncio.IncompleteReadError, ConnectionError):
                # A keep-alive connection the server closed between requests: retry once on a new one.
                self.close()
                if fresh or attempt == 2:
                    raise
                continue
            if not keep:
                self.close()
            return status
        raise ConnectionError("unreachable")

    async def _read_answer(self) -> tuple[int, bool]:
        assert self.reader is not None
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        keep = status_line.startswith(b"HTTP/1.1")
        chunked = False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection":
                keep = value.strip().lower() != b"close"
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status, keep


class Bodies:
    """Request bodies: user i's next event, users in turn."""

    def __init__(self, users: int, events: list[str], first_user: int, raw: bytes | None):
        self.users = users
        self.events = events
        self.first_user = first_user
        self.raw = raw
        self.n = 0

    def next(self) -> tuple[int, bytes]:
        if self.raw is not None:
            return -1, self.raw
        i = self.n % self.users
        event = self.events[(self.n // self.users) % len(self.events)]
        self.n += 1
        user = self.first_user + i
        return user, json.dumps({"user": f"user{user}", "event": event}).encode()


def header_block(host: str, key: str | None) -> bytes:
    lines = [f"Host: {host}", "Content-Type: application/json", "User-Agent: heartbeat-loadgen"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _one(conn: Connection, method: str, user: int, body: bytes, result: Result, scheduled: float) -> None:
    wall = time.time() - (time.perf_counter() - scheduled)
    try:
        status = await conn.request(method, body)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        status = 0
        name = type(exc).__name__
        result.errors[name] = result.errors.get(name, 0) + 1
    result.started.append(wall)
    result.users.append(user)
    result.statuses.append(status)
    result.latencies.append(time.perf_counter() - scheduled)


async def closed_loop(conns: list[Connection], method: str, bodies: Bodies, duration: float, warmup: float) -> Result:
    """Every connection sends again as soon as it has its answer; `warmup` seconds are not counted."""
    measured = Result()
    scratch = Result()
    begin = time.perf_counter()
    count_from = begin + warmup
    stop_at = count_from + duration

    async def run(conn: Connection) -> None:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            user, body = bodies.next()
            await _one(conn, method, user, body, measured if now >= count_from else scratch, now)

    await asyncio.gather(*(run(c) for c in conns))
    measured.errors.update({f"warmup {k}": v for k, v in scratch.errors.items()})
    measured.unmeasured = len(scratch.statuses)
    return measured


async def open_loop(conns: list[Connection], method: str, bodies: Bodies, rate: float, count: int) -> Result:
    """Starts `count` requests at `rate` per second on whichever connection is free."""
    result = Result()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    begin = time.perf_counter()
    tasks: set[asyncio.Task] = set()

    async def send(conn: Connection, user: int, body: bytes, scheduled: float) -> None:
        try:
            await _one(conn, method, user, body, result, scheduled)
        finally:
            idle.put_nowait(conn)

    for i in range(count):
        scheduled = begin + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await idle.get()
        user, body = bodies.next()
        task = asyncio.ensure_future(send(conn, user, body, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    return result


def summarise(result: Result, elapsed: float) -> dict:
    by_status: dict[str, int] = {}
    for status in result.statuses:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
    ok = [lat for lat, st in zip(result.latencies, result.statuses, strict=True) if 200 <= st < 300]
    return {
        "requests": len(result.statuses),
        "sent": len(result.statuses) + result.unmeasured,
        "statuses": by_status,
        "errors": result.errors,
        "seconds": round(elapsed, 3),
        "rps": round(len(result.statuses) / elapsed, 1) if elapsed else 0.0,
        "ok_rps": round(len(ok) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(ok, 50) * 1000, 2) if ok else None,
        "p99_ms": round(percentile(ok, 99) * 1000, 2) if ok else None,
        "max_ms": round(max(ok) * 1000, 2) if ok else None,
    }


async def main_async(args: argparse.Namespace) -> dict:
    targets = []
    for url in args.url:
        parts = urlsplit(url)
        targets.append(Target(parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"))
    key = Path(args.key_file).read_text().strip() if args.key_file else None
    conns = [
        Connection(t, header_block(f"{t.host}:{t.port}", key))
        for i in range(args.connections)
        for t in [targets[i % len(targets)]]
    ]
    raw = args.body.encode() if args.body is not None else None
    bodies = Bodies(args.users, args.events.split(","), args.first_user, raw)
    started = time.perf_counter()
    if args.rate:
        result = await open_loop(conns, args.method, bodies, args.rate, args.count)
        elapsed = time.perf_counter() - started
    else:
        result = await closed_loop(conns, args.method, bodies, args.duration, args.warmup)
        elapsed = time.perf_counter() - started - args.warmup
    for conn in conns:
        conn.close()
    if args.records:
        with open(args.records, "w") as out:
            for row in zip(result.started, result.users, result.statuses, result.latencies, strict=True):
                out.write(json.dumps(row) + "\n")
    return summarise(result, elapsed)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", action="append", required=True, help="http://host:port/path (repeatable)")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--key-file", help="file holding the API key (sent as Bearer; never printed)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="closed loop: seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="closed loop: seconds not measured first")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second")
    parser.add_argument("--count", type=int, default=0, help="open loop: how many requests")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--first-user", type=int, default=0)
    parser.add_argument("--events", default="logon")
    parser.add_argument("--body", help="a fixed body instead of the generated trigger bodies")
    parser.add_argument("--records", help="write one JSON line per request here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    summary = asyncio.run(main_async(args))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
