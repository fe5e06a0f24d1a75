"""Real PostgreSQL and Redis servers for the tests, started from Debian's packages.

`python -m tests.services -- CMD…` starts both on free loopback ports, runs CMD with DATABASE_URL
and REDIS_URL pointing at them, and stops them. The fault suite uses the classes directly to
restart a server under load. Without the packages: a loud notice and a skip — except in CI
(CI=true), where every suite must run, so a missing package is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def postgres_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return str(Path(found[-1]).parent) if found else None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class PostgresServer:
    """A throwaway cluster in a temp dir (as the `postgres` user when we are root: initdb refuses root).

    `debian_auth=True` authenticates as a stock Debian cluster does: scram-sha-256 over TCP, peer on
    the local socket (trust there when we are not root: peer would need the `postgres` account).
    """

    def __init__(self, port: int | None = None, *, debian_auth: bool = False):
        self.debian_auth = debian_auth
        self.bindir = postgres_bindir()
        if not self.bindir:
            raise FileNotFoundError("PostgreSQL is not installed (Debian package: postgresql)")
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="heartbeat-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/heartbeat"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id (its backends are its children), while it runs."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def socket_dir(self) -> str:
        return str(self.root)

    def _auth(self) -> list[str]:
        if not self.debian_auth:
            return ["--auth=trust"]
        return ["--auth-local=" + ("peer" if self.as_user else "trust"), "--auth-host=scram-sha-256"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run(f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres", *self._auth(), "-E", "UTF8")
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(
                    f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                    "fsync = off\nfull_page_writes = off\nmax_connections = 200\n"
                )
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")
        wait_for_port(self.port)
        return self

    def create_database(self, name: str = "heartbeat") -> None:
        subprocess.run(
            [*self.as_user, f"{self.bindir}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.as_user, f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def export(self) -> dict[str, str]:
        """What a test needs to restart this server (the fault suite), as environment variables."""
        return {"HEARTBEAT_TEST_PG_ROOT": str(self.root), "HEARTBEAT_TEST_PG_PORT": str(self.port)}

    @classmethod
    def attach(cls) -> PostgresServer | None:
        """The server `main` started for this test run, if any."""
        root, port = os.environ.get("HEARTBEAT_TEST_PG_ROOT"), os.environ.get("HEARTBEAT_TEST_PG_PORT")
        if not root or not port:
            return None
        server = cls.__new__(cls)
        server.bindir, server.port, server.root = postgres_bindir(), int(port), Path(root)
        server.debian_auth = False
        server.data = server.root / "data"
        server.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return server

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    def __init__(self, port: int | None = None):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise FileNotFoundError("Redis is not installed (Debian package: redis-server)")
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    destroy = stop


def available() -> str | None:
    """None when both servers can be started here; otherwise what is missing."""
    missing = []
    if not postgres_bindir():
        missing.append("postgresql")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    return " and ".join(missing) or None


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    missing = available()
    if missing:
        banner = "!" * 78
        print(
            f"\n{banner}\n!! SKIPPING the PostgreSQL + Redis run: {missing} not installed.\n"
            f"!! Install with: apt-get install -y postgresql redis-server\n{banner}\n",
            file=sys.stderr,
        )
        return 1 if in_ci() else 0
    pg, redis = PostgresServer().start(), RedisServer().start()
    pg.create_database()
    try:
        env = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url, **pg.export()}
        print(f"PostgreSQL on {pg.port}, Redis on {redis.port}: running {' '.join(argv)}", file=sys.stderr)
        return subprocess.call(argv, env=env)
    finally:
        redis.destroy()
        pg.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
