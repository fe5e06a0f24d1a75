"""Real processes for end-to-end tests: the PBX simulator, `runheartbeat` and `runpbxlink`.

The server and worker run as subprocesses on the test database (a file for SQLite, the test
database for PostgreSQL), with the same secrets and licence key as the test process, so a test
posts triggers over HTTP and watches the simulator and the trigger log like an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def child_env(**extra: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "heartbeat_site.settings_test",
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(settings.VAR_DIR),
        "LICENSE_PUBLIC_KEY": settings.LICENSE_PUBLIC_KEY,
        "PBX_APP": settings.PBX_APP,
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class Process:
    """A manage.py command in a subprocess, its output kept in test-output/ for post-mortems."""

    def __init__(self, name: str, args: list[str], env: dict, program: list[str] | None = None):
        OUTPUT.mkdir(exist_ok=True)
        self.log_path = OUTPUT / f"{name}.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.log_start = self.log.tell()  # the file keeps earlier runs: output() reads this run's part only
        self.log.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(args)}\n".encode())
        self.proc = subprocess.Popen(
            [*(program or [sys.executable, "manage.py"]), *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when a machine dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read().decode(errors="replace")


class Server(Process):
    """`runheartbeat`: web + link in one process (the embedded default), pointed at a simulator."""

    def __init__(self, pbx_url: str, pbx_password: str, name: str = "server", **extra: str):
        self.port = free_port()
        env = child_env(PBX_URL=pbx_url, PBX_PASSWORD=pbx_password, PORT=str(self.port), **extra)
        super().__init__(name, ["runheartbeat", "--port", str(self.port)], env)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for_port(self.port, timeout=60)

    def post(self, key: str, body: dict, timeout: float = 10) -> tuple[int, dict]:
        """POST a trigger; (status, body). Connection failures answer (0, {}): nothing was accepted."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/triggers",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}
        except (urllib.error.URLError, OSError):
            return 0, {}


class EmbeddedServer(Process):
    """`runheartbeat` without PBX_URL, as `make run` starts it: its built-in PBX simulator with the demo
    users and the myApps App objects, and the preview host."""

    def __init__(self, name: str = "embedded", **extra: str):
        self.port = free_port()
        env = child_env(PBX_URL="", PORT=str(self.port), **extra)
        super().__init__(name, ["runheartbeat", "--port", str(self.port)], env)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for_port(self.port, timeout=30)


class Web(Process):
    """daphne alone (the scaled layout's web tier): accepts triggers, holds no PBX link."""

    def __init__(self, name: str = "web", **extra: str):
        self.port = free_port()
        args = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "heartbeat_site.asgi:application"]
        super().__init__(name, args, child_env(**extra), program=[sys.executable])
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for_port(self.port, timeout=60)

    post = Server.post


class Worker(Process):
    """`runpbxlink` on its own (the scaled layout)."""

    def __init__(self, pbx_url: str, pbx_password: str, name: str = "worker", **extra: str):
        super().__init__(name, ["runpbxlink"], child_env(PBX_URL=pbx_url, PBX_PASSWORD=pbx_password, **extra))


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout`.

    The timeout is a hang guard, generous on purpose (the suite shares a busy machine): tests wait
    for the event itself and never assert how fast it came; tests/bench/ measures that.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def settled(trigger_id: int, timeout: float = 60):
    """Wait until the worker has decided the trigger (any status but queued); return the row."""
    from triggers.models import Trigger

    wait_until(
        lambda: Trigger.objects.filter(pk=trigger_id).exclude(status="queued").exists(),
        timeout,
        message=f"trigger {trigger_id} to be decided",
    )
    return Trigger.objects.get(pk=trigger_id)


def shown(sim, user) -> tuple[str, str]:
    """(activity, note) the simulated PBX shows for `user`: what colleagues see."""

    def read() -> tuple[str, str]:  # on the simulator's own loop, which changes presences meanwhile
        entry = sim.simulator.presence_of(user.guid)
        return entry.get("activity", ""), entry.get("note", "")

    return sim.call(read)
