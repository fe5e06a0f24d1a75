"""The production topology, installed and started the way docs/deployment.md says.

The checkout's files are copied to <root>/opt/presence-heartbeat (the guide's `git clone`), and its
`deploy/install.sh` does the installing (account, the virtualenv from requirements.txt, secrets,
settings, a password-protected PostgreSQL role, migrate, the first admin, the systemd units and the
nginx site) into that temporary root, with sudo's PATH and nothing else of the test process; the
units' own ExecStart lines then start gunicorn, two daphne and two `runpbxlink` (tests/production/
units.py, since systemd is not PID 1 here), and nginx runs the installed site with a certificate
from the suite's CA. Only what install.sh leaves to the machine is the suite's: the PostgreSQL
cluster (authenticating as stock Debian does), Redis, nginx's main configuration (Debian's
package ships one) and the PBX simulator.

Without nginx, PostgreSQL, Redis or systemctl the suite skips with a loud notice — except in CI
(CI=true), where a missing package is a failure. As root the services run as the `heartbeat`
system account that install.sh creates (and leaves, like the packages); otherwise as yourself.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from presence.demo import demo_users
from presence.pbx.simulator import SimulatorThread, generate_users
from tests.e2e.stack import wait_until
from tests.pki import ServerCertificates, make_test_ca
from tests.production.client import Client
from tests.production.units import RunningUnit, Unit, start_unit
from tests.services import PostgresServer, RedisServer, free_port, in_ci, postgres_bindir, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "production"
SEATS = 50
LICENSED_BY_SCRIPT = [f"user{i}" for i in range(24)] + ["alice", "carol"]  # admin, bob, dave, erin: by hand


# sudo's secure_path: what `sudo deploy/install.sh` runs with (the system's python3, nginx, useradd).
SUDO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# How this machine reaches PyPI (a mirror, a proxy): install.sh's pip must find packages the same way.
MACHINE_SETTINGS = ("PIP_", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def missing_packages() -> list[str]:
    programs = (("nginx", "nginx"), ("redis-server", "redis-server"), ("systemd", "systemctl"))
    missing = [package for package, program in programs if not shutil.which(program, path=SUDO_PATH)]
    if not postgres_bindir():
        missing.append("postgresql")
    return missing


NGINX_MAIN = """\
# The suite's stand-in for Debian's /etc/nginx/nginx.conf: the same includes, files in the suite's root.
worker_processes 2;
pid {root}/nginx.pid;
error_log {logs}/nginx-error.log;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {logs}/nginx-access.log;
    client_body_temp_path {root}/nginx-tmp/body;
    proxy_temp_path {root}/nginx-tmp/proxy;
    fastcgi_temp_path {root}/nginx-tmp/fastcgi;
    uwsgi_temp_path {root}/nginx-tmp/uwsgi;
    scgi_temp_path {root}/nginx-tmp/scgi;
    include {nginx_dir}/sites-enabled/*;
}}
"""


@dataclass
class Installation:
    """What the suite installed and started; the tests reach it the way its users would."""

    root: Path
    certificates: ServerCertificates
    pg: PostgresServer
    redis: RedisServer
    sim: SimulatorThread
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    web_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    worker_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    service_user: str = "heartbeat"
    units: dict[str, RunningUnit] = field(default_factory=dict)
    nginx: subprocess.Popen | None = None
    admin_password: str = ""
    api_key: str = ""
    instance_id: str = ""

    # ---- where things are ---------------------------------------------------------------------
    @property
    def app_dir(self) -> Path:
        return self.root / "opt" / "presence-heartbeat"

    @property
    def conf_dir(self) -> Path:
        return self.root / "etc" / "presence-heartbeat"

    @property
    def state_dir(self) -> Path:
        return self.root / "var" / "lib" / "presence-heartbeat"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "etc" / "nginx"

    @property
    def systemd_root(self) -> Path:
        return self.root / "systemd"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return OUTPUT

    def client(self, source: str = "127.0.0.1") -> Client:
        return Client("localhost", self.https_port, self.certificates.ca_file, source=source)

    # ---- the guide's commands -----------------------------------------------------------------
    def script_env(self, **overrides: str) -> dict[str, str]:
        """What the administrator's `sudo VAR=… deploy/install.sh` sees: the documented variables only."""
        env = {
            **{k: v for k, v in os.environ.items() if k.startswith(MACHINE_SETTINGS)},
            "PATH": SUDO_PATH,
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", str(self.root)),  # pip's cache
            "SERVER_NAME": "localhost",
            "TLS_CERT": str(self.certificates.cert_file),
            "TLS_KEY": str(self.certificates.key_file),
            "HTTPS_PORT": str(self.https_port),
            "HTTP_PORT": str(self.http_port),
            "API_PORT": str(self.api_port),
            "WEB_PORTS": " ".join(map(str, self.web_ports)),
            "WORKER_PORTS": " ".join(map(str, self.worker_ports)),
            "PBX_URL": self.sim.simulator.url,
            "REDIS_URL": self.redis.url,
            "SERVICE_USER": self.service_user,
            "CONF_DIR": str(self.conf_dir),
            "STATE_DIR": str(self.state_dir),
            "NGINX_DIR": str(self.nginx_dir),
            "SYSTEMD_ROOT": str(self.systemd_root),
            # PostgreSQL on this machine, as psql finds it: the suite's cluster instead of Debian's.
            "PGHOST": self.pg.socket_dir,
            "PGPORT": str(self.pg.port),
        }
        if os.geteuid() != 0:
            env["PGUSER"] = "postgres"
        env.update(overrides)
        return env

    def script(self, name: str, *args: str, stdin: str = "", **overrides: str) -> str:
        done = subprocess.run(
            [str(self.app_dir / "deploy" / name), *args],
            input=stdin,
            env=self.script_env(**overrides),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        with open(self.logs / "install.log", "a") as log:
            log.write(f"\n$ {name} {' '.join(args)}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def manage(self, *args: str, conf_dir: Path | None = None) -> str:
        """`sudo -u heartbeat ENV_FILE=…/heartbeat.env .venv/bin/python manage.py …`, as the guide says."""
        command = [
            "env",
            "-i",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "LANG=C.UTF-8",
            f"HOME={self.state_dir}",
            f"ENV_FILE={(conf_dir or self.conf_dir) / 'heartbeat.env'}",
            str(self.app_dir / ".venv" / "bin" / "python"),
            str(self.app_dir / "manage.py"),
            *args,
        ]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.service_user, "--", *command]
        done = subprocess.run(command, cwd=self.app_dir, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # ---- the units and nginx ------------------------------------------------------------------
    def start(self, name: str, systemd_root: Path | None = None) -> RunningUnit:
        unit_dir = (systemd_root or self.systemd_root) / "etc" / "systemd" / "system"
        running = start_unit(Unit.load(unit_dir, name, self.runtime_dir), self.logs)
        self.units[name] = running
        return running

    def start_nginx(self) -> None:
        self.nginx = subprocess.Popen(
            [shutil.which("nginx", path=SUDO_PATH), "-c", str(self.nginx_dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=open(self.logs / "nginx.out", "ab"),  # noqa: SIM115 (lives as long as nginx)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.https_port, timeout=30)

    def stop_all(self) -> None:
        for running in self.units.values():
            running.stop()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(30)

    # ---- looking inside, as an operator with psql would ---------------------------------------
    def sql(self, query: str, params: tuple = (), dbname: str = "heartbeat") -> list[tuple]:
        """A query as the service's own role: its password, over TCP (scram-sha-256)."""
        password = (self.conf_dir / "database_password").read_text().strip()
        with psycopg.connect(
            host="127.0.0.1", port=self.pg.port, dbname=dbname, user="heartbeat", password=password, autocommit=True
        ) as connection:
            return connection.execute(query, params).fetchall()

    def link_holder_pid(self) -> int | None:
        rows = self.sql("SELECT holder FROM presence_linkstatus WHERE lease_until > now() AND connected")
        return int(rows[0][0].split(":")[1]) if rows and rows[0][0] else None


NOT_CLONED = {".git", ".venv", "var", "test-output", "__pycache__", ".env", ".pytest_cache", ".ruff_cache"}


def _clone(app_dir: Path) -> None:
    """The checkout's files as `git clone` would give them, with this working tree's changes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    if listed.returncode == 0:
        names = [n.decode() for n in listed.stdout.split(b"\0") if n]
    else:  # not a git checkout (an unpacked archive): everything but what git would ignore
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not NOT_CLONED & set(p.relative_to(ROOT).parts)
        ]
    for name in names:
        source = ROOT / name
        if source.is_file():
            (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, app_dir / name)


def _install(inst: Installation, pbx_password: str, licence_public_key: str) -> None:
    _clone(inst.app_dir)
    (inst.nginx_dir).mkdir(parents=True)
    (inst.nginx_dir / "nginx.conf").write_text(NGINX_MAIN.format(root=inst.root, nginx_dir=inst.nginx_dir, logs=OUTPUT))
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):  # Debian's package makes /var/lib/nginx/*
        (inst.root / "nginx-tmp" / sub).mkdir(parents=True)
    output = inst.script(
        "install.sh",
        "account",
        "code",
        "secrets",
        "settings",
        "database",
        "migrate",
        "admin",
        "units",
        "nginx",
        stdin=pbx_password + "\n",
        LICENSE_PUBLIC_KEY=licence_public_key,
    )
    inst.admin_password = re.search(r"login: admin  password: (\S+)", output).group(1)
    inst.instance_id = re.search(r"Instance id: (\S+)", output).group(1)


def _start(inst: Installation) -> None:
    inst.start("heartbeat-api.service")
    for port in inst.web_ports:
        inst.start(f"heartbeat-web@{port}.service")
    for port in inst.worker_ports:
        inst.start(f"heartbeat-worker@{port}.service")
    inst.start_nginx()
    for port in [inst.api_port, *inst.web_ports]:
        wait_for_port(port, timeout=60)


@pytest.fixture(scope="session")
def installation() -> Iterator[Installation]:
    """The whole production set-up, installed by deploy/install.sh and started from its units."""
    missing = missing_packages()
    if missing:
        message = f"the production suite needs {', '.join(missing)} (apt-get install -y {' '.join(missing)})"
        if in_ci():
            pytest.fail(message)
        print("\n" + "!" * 78 + f"\n!! SKIPPING {message}\n" + "!" * 78)
        pytest.skip(message)
    from tests.licensing.support import ISSUER_PUBLIC, make_token

    started = time.monotonic()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("*"):
        if old.is_file():
            old.unlink()
    root = Path(tempfile.mkdtemp(prefix="heartbeat-production-"))
    root.chmod(0o755)  # the service account and nginx's workers go through it
    pbx_password = secrets.token_urlsafe(24)
    sim = SimulatorThread(app="presencebridge", password=pbx_password, users=demo_users() + generate_users(24))
    sim.start()
    pg = PostgresServer(debian_auth=True).start()
    redis = RedisServer().start()
    inst = Installation(root, make_test_ca(root / "tls"), pg, redis, sim)
    if os.geteuid() != 0:
        inst.service_user = pwd.getpwuid(os.getuid()).pw_name
    try:
        _install(inst, pbx_password, ISSUER_PUBLIC)
        token = make_token(instance=inst.instance_id, seats=SEATS, customer="Production Suite")
        inst.manage("license", "activate", token)
        inst.api_key = inst.manage("createapikey", "production suite").strip()
        _start(inst)
        wait_until(lambda: inst.link_holder_pid(), 60, 0.2, "a worker to hold the PBX link")
        wait_until(
            lambda: inst.sql("SELECT count(*) FROM presence_pbxuser")[0][0] >= len(sim.simulator.users),
            60,
            0.2,
            "the directory to be replicated",
        )
        inst.manage("licenseusers", "--on", *LICENSED_BY_SCRIPT)
        (OUTPUT / "timings.txt").write_text(f"installed and started in {time.monotonic() - started:.1f} s\n")
        yield inst
    finally:
        inst.stop_all()
        sim.stop()
        redis.destroy()
        pg.destroy()
        shutil.rmtree(root, ignore_errors=True)
