"""What every benchmark needs: a PBX simulator that timestamps, the servers as real processes, the
load generator in its own process, and a table printer.

The servers start the way `make run` starts them (migrate, then `runheartbeat`) — or, for the scaled
configuration, as the deployment docs run them (PostgreSQL + Redis, `runpbxlink`, gunicorn for the
API, daphne) — pointed at a simulator with as many users as the benchmark needs. The database is
prepared by `tests.bench.prepare` in a subprocess with the server's own environment: a licence from
a throwaway issuer key with enough seats, the users' licence switches, and API keys written to
files (0600) that only the load generator reads. No key is ever printed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from presence.pbx.simulator import PbxSimulator, SimUser, generate_users
from tests.services import PostgresServer, RedisServer, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "bench"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"nproc={os.cpu_count()}, {cpu or platform.machine()}, Python {platform.python_version()}"


def away_users(n: int) -> list[SimUser]:
    """Users whose phones show 'away' (their computers were off overnight): a logon changes them."""
    users = generate_users(n)
    for user in users:
        user.presence = [
            {"contact": "tel:", "status": "open", "activity": "away", "note": "Computer off"},
            {"contact": "im:", "status": "open", "activity": "", "note": ""},
        ]
    return users


class TimedSimulator(PbxSimulator):
    """The simulator, noting the wall-clock time at which each SetPresence arrives, per user."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.set_times: dict[str, list[float]] = defaultdict(list)

    async def _set_presence(self, conn, message: dict) -> None:
        self.set_times[str(message.get("guid") or message.get("sip") or "")].append(time.time())
        await super()._set_presence(conn, message)

    @property
    def set_presence_count(self) -> int:
        return sum(len(v) for v in self.set_times.values())


class SimulatorRunner:
    """A TimedSimulator on its own thread and loop (the benchmark's main thread runs the clock)."""

    def __init__(self, users: list[SimUser], password: str, app: str = "presencebridge"):
        self.loop = asyncio.new_event_loop()
        self.simulator = TimedSimulator(app=app, password=password, users=users)
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-pbx-simulator", daemon=True)

    def start(self) -> TimedSimulator:
        self.thread.start()
        self.call(self.simulator.start)
        return self.simulator

    def call(self, fn, *args):
        async def run():
            return await fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=60)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.simulator.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Proc:
    """A server process; its output goes to test-output/bench/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = OUTPUT / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def rss_mb(self) -> float:
        """Resident set size of the process and its children (gunicorn workers), in MB."""
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            pids += [int(p) for p in children]
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def peak_rss_mb(self) -> float:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class Stack:
    """One configuration under test: `embedded` (SQLite, in-memory layer) or `scaled` (PostgreSQL + Redis)."""

    def __init__(self, name: str, *, scaled: bool, users: list[SimUser], keys: int = 4, extra_env: dict | None = None):
        self.name = name
        self.scaled = scaled
        self.users = users
        self.tmp = Path(tempfile.mkdtemp(prefix=f"heartbeat-bench-{name}-"))
        os.chmod(self.tmp, 0o700)
        self.procs: list[Proc] = []
        self.pg: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.sim: SimulatorRunner | None = None
        self.key_files = [self.tmp / f"key{i}" for i in range(keys)]
        issuer = Ed25519PrivateKey.generate()
        pem = issuer.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = base64.b64encode(
            issuer.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode()
        self.sim_password = secrets.token_urlsafe(16)
        self.account_password = secrets.token_urlsafe(16)
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PBX_URL")},
            "DJANGO_SETTINGS_MODULE": "heartbeat_site.settings",
            "ENV_FILE": "/nonexistent/.env",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "API_KEY_PEPPER": secrets.token_urlsafe(32),
            "VAR_DIR": str(self.tmp),
            "LICENSE_PUBLIC_KEY": public,
            "BENCH_VIEWS": "true",
            "PBX_PASSWORD": self.sim_password,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.issuer_pem = pem

    # ---- services and data ----------------------------------------------------------------------
    def start_services(self) -> None:
        if not self.scaled:
            return
        self.pg = PostgresServer().start()
        self.pg.create_database()
        self.redis = RedisServer().start()
        self.env["DATABASE_URL"] = self.pg.url
        self.env["REDIS_URL"] = self.redis.url

    def prepare(self, licensed: int | None = None, accounts: list[str] = (), seats: int | None = None) -> None:
        """migrate, licence (`seats`, by default the licensed users and 10 more), switches on for the first
        `licensed` users, API keys into files, and user-page accounts named `accounts` with the password
        `self.account_password`."""
        guids = self.tmp / "guids"
        guids.write_text("\n".join(u.guid for u in self.users[: len(self.users) if licensed is None else licensed]))
        issuer = self.tmp / "issuer.pem"
        issuer.write_bytes(self.issuer_pem)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        args = [PYTHON, "-m", "tests.bench.prepare", "--issuer", str(issuer), "--guids", str(guids)]
        if seats:
            args += ["--seats", str(seats)]
        for path in self.key_files:
            args += ["--key-file", str(path)]
        if accounts:
            password_file = self.tmp / "password"
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(self.account_password)
            args += ["--password-file", str(password_file)]
            args += [arg for name in accounts for arg in ("--account", name)]
        subprocess.run(args, cwd=ROOT, env=self.env, check=True)

    def start_simulator(self) -> TimedSimulator:
        self.sim = SimulatorRunner(self.users, self.sim_password)
        simulator = self.sim.start()
        self.env["PBX_URL"] = simulator.url
        return simulator

    # ---- processes ------------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], **extra: str) -> Proc:
        proc = Proc(f"{self.name}-{name}", argv, {**self.env, **extra})
        self.procs.append(proc)
        return proc

    def embedded(self) -> tuple[Proc, int]:
        port = free_port()
        proc = self.spawn("runheartbeat", [PYTHON, "manage.py", "runheartbeat", "--port", str(port)])
        wait_for_port(port, 60)
        return proc, port

    def worker(self, name: str = "runpbxlink") -> Proc:
        return self.spawn(name, [PYTHON, "manage.py", "runpbxlink"])

    def gunicorn(self, workers: int) -> tuple[Proc, int]:
        port = free_port()
        argv = [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "heartbeat_site" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "heartbeat_site.wsgi:application",
        ]
        proc = self.spawn(f"gunicorn{workers}", argv)
        wait_for_port(port, 60)
        return proc, port

    def daphne(self, index: int) -> tuple[Proc, int]:
        port = free_port()
        argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "heartbeat_site.asgi:application"]
        proc = self.spawn(f"daphne{index}", argv)
        wait_for_port(port, 60)
        return proc, port

    def wait_linked(self, timeout: float = 300.0, subscriptions: int | None = None) -> float:
        """Until the link is up, the directory replicated and every licensed user subscribed. Returns seconds."""
        assert self.sim is not None
        simulator = self.sim.simulator
        wanted = len(self.users) if subscriptions is None else subscriptions
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if simulator.connections and len(simulator.subscriptions) >= wanted:
                return time.monotonic() - started
            for proc in self.procs:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
            time.sleep(0.2)
        raise TimeoutError(f"link not ready after {timeout} s: {len(simulator.subscriptions)} subscriptions")

    def stop_process(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs = []
        if self.sim is not None:
            self.sim.stop()
        if self.redis is not None:
            self.redis.destroy()
        if self.pg is not None:
            self.pg.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def in_process_test_database(*, bench_views: bool = False) -> None:
    """Django set up in this process on a throwaway test database (the test settings; DATABASE_URL for
    PostgreSQL): the in-process benchmarks drive the request cycle through the test client and count
    process CPU time. `bench_views` mounts `/bench/trivial`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heartbeat_site.settings_test")
    if bench_views:
        os.environ["BENCH_VIEWS"] = "true"
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)


def licensed_directory(users: int, key_name: str) -> str:
    """`users` PBX users `user<n>` (e-mail `user<n>@example.com`), each with the licence switch on under
    a licence of 5,000 seats; returns a new API key. After `in_process_test_database()`."""
    from django.conf import settings

    from licensing.models import Seat
    from presence.models import PbxUser
    from tests.licensing.support import install_licence
    from triggers.models import ApiKey

    install_licence(settings, seats=5000)
    rows = []
    for n in range(users):
        user = PbxUser(guid=f"{n:032x}", h323=f"user{n}", cn=f"User {n}", emails=[f"user{n}@example.com"])
        user.fill_keys()
        rows.append(user)
    PbxUser.objects.bulk_create(rows)
    Seat.objects.bulk_create([Seat(user_guid=u.guid) for u in rows])
    return ApiKey.create(key_name)[1]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes and their children (gunicorn's workers)."""
    total = 0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            todo += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return total / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def loadgen(args: list[str], server_pids: list[int] = (), parts: dict[str, list[int]] | None = None) -> dict:
    """Runs the load generator in its own process; returns its JSON summary plus CPU per request.

    CPU per request (server and load generator) does not depend on what else the machine runs, so it
    compares set-ups honestly even when other work shares the cores; `load` is the 1-minute load
    average when the run started.
    """
    load = loadavg()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(list(server_pids))
    parts = parts or {}
    parts_before = {name: cpu_seconds(pids) for name, pids in parts.items()}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    done = subprocess.run([PYTHON, "-m", "tests.bench.loadgen", *args], cwd=ROOT, capture_output=True, text=True)
    server_cpu = cpu_seconds(list(server_pids)) - server_before
    parts_cpu = {name: cpu_seconds(pids) - parts_before[name] for name, pids in parts.items()}
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    client_cpu = sum(getattr(after_children, f) - getattr(before_children, f) for f in ("ru_utime", "ru_stime"))
    requests = max(summary["sent"], 1)
    summary["server_cpu_ms"] = round(server_cpu * 1000 / requests, 3) if server_pids else None
    summary["loadgen_cpu_ms"] = round(client_cpu * 1000 / requests, 3)
    # Where the CPU went, per request: the named processes, and this process (the PBX simulator).
    summary["parts_cpu_ms"] = {name: round(cpu * 1000 / requests, 3) for name, cpu in parts_cpu.items()}
    own = sum(getattr(self_after, f) - getattr(self_before, f) for f in ("ru_utime", "ru_stime"))
    summary["parts_cpu_ms"]["simulator (bench process)"] = round(own * 1000 / requests, 3)
    summary["parts_cpu_ms"]["load generator"] = summary["loadgen_cpu_ms"]
    summary["load"] = load
    return summary


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def table(title: str, command: str, headers: list[str], rows: list[list[Any]], notes: list[str] = ()) -> str:
    """A Markdown table with its title, the command that produced it and the machine."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        f"### {title}",
        "",
        f"`{command}` — {machine()}",
        "",
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    if notes:
        lines += ["", *notes]
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    return text


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
