"""Start a systemd service the way systemd would, where systemd is not PID 1 (a container, CI).

The production suite runs exactly what the installed unit files say: their `ExecStart`, `User`,
`Group`, `WorkingDirectory`, `Environment`, `EnvironmentFile` and `RuntimeDirectory`, with the
instance and runtime specifiers filled in and systemd's clean environment (nothing of the test
process leaks in). Sandboxing (`ProtectSystem=`, …) and sd_notify are not emulated:
`systemd-analyze verify` checks those lines (tests/test_deploy_files.py).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file: {section: [(key, value), …]} in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped[0] in "#;"):
            continue
        line, pending = pending + stripped, ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def parse_environment_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads them: comments, blank lines, optional quotes around the value."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass
class Unit:
    """One unit instance (`heartbeat-web@8101.service`) read from its installed file."""

    name: str
    path: Path
    service: list[tuple[str, str]]
    runtime_root: Path

    @classmethod
    def load(cls, unit_dir: Path, name: str, runtime_root: Path) -> Unit:
        template = re.sub(r"@[^.]+\.", "@.", name)
        path = unit_dir / (name if (unit_dir / name).exists() else template)
        return cls(name, path, parse_unit(path.read_text()).get("Service", []), runtime_root)

    @property
    def instance(self) -> str:
        return self.name.split("@", 1)[1].rsplit(".", 1)[0] if "@" in self.name else ""

    def specifiers(self, value: str) -> str:
        table = {
            "i": self.instance,
            "I": self.instance,
            "n": self.name,
            "N": self.name.rsplit(".", 1)[0],
            "p": self.name.split("@", 1)[0].rsplit(".", 1)[0],
            "t": str(self.runtime_root),
            "%": "%",
        }

        def replace(match: re.Match) -> str:
            if match.group(1) not in table:
                raise ValueError(f"{self.path}: specifier %{match.group(1)} is not emulated")
            return table[match.group(1)]

        return re.sub(r"%(.)", replace, value)

    def values(self, key: str) -> list[str]:
        return [self.specifiers(value) for k, value in self.service if k == key]

    def value(self, key: str, default: str = "") -> str:
        found = self.values(key)
        return found[-1] if found else default

    def user(self) -> pwd.struct_passwd | None:
        name = self.value("User")
        return pwd.getpwnam(name) if name else None

    def environment(self) -> dict[str, str]:
        """systemd's clean environment, then Environment=, then EnvironmentFile= (which overrides it)."""
        account = self.user() or pwd.getpwuid(os.getuid())
        env = {
            "PATH": SYSTEMD_PATH,
            "LANG": "C.UTF-8",
            "HOME": account.pw_dir,
            "USER": account.pw_name,
            "LOGNAME": account.pw_name,
            "SHELL": account.pw_shell,
        }
        for assignments in self.values("Environment"):
            for assignment in shlex.split(assignments):
                key, _, value = assignment.partition("=")
                env[key] = value
        for path in self.values("EnvironmentFile"):
            optional = path.startswith("-")
            path = path.lstrip("-")
            if optional and not Path(path).exists():
                continue
            env.update(parse_environment_file(Path(path).read_text()))
        directories = [str(self.runtime_root / d) for d in self.values("RuntimeDirectory")]
        if directories:
            env["RUNTIME_DIRECTORY"] = ":".join(directories)
        return env

    def command(self, env: dict[str, str]) -> list[str]:
        """ExecStart split as systemd does, with `${VAR}` inside a word and `$VAR` as whole words."""
        line = self.value("ExecStart")
        if line[:1] in "-@+!:":
            raise ValueError(f"{self.path}: ExecStart prefix {line[0]!r} is not emulated")
        words: list[str] = []
        for word in shlex.split(line):
            whole = re.fullmatch(r"\$(\w+)", word)
            if whole:
                words.extend(env.get(whole.group(1), "").split())
            else:
                words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word).replace("$$", "$"))
        return words


@dataclass
class RunningUnit:
    """A unit's main process (its own process group), with its output in a log file."""

    unit: Unit
    proc: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL to every process of the unit: a machine dying, as far as this unit can tell."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """KillSignal to the main process (KillMode=mixed) or to all of them; SIGKILL after TimeoutStopSec."""
        if self.proc.poll() is None:
            sig = getattr(signal, self.unit.value("KillSignal", "SIGTERM"))
            if self.unit.value("KillMode", "control-group") == "mixed":
                self.proc.send_signal(sig)
            else:
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(float(self.unit.value("TimeoutStopSec", "90")))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # what is left of the unit, as systemd does
        self.proc.wait(30)
        for directory in self.unit.values("RuntimeDirectory"):
            shutil.rmtree(self.unit.runtime_root / directory, ignore_errors=True)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_unit(unit: Unit, log_dir: Path) -> RunningUnit:
    """Start the unit's ExecStart as its User/Group in its WorkingDirectory with its environment."""
    env = unit.environment()
    account = unit.user()
    for directory in unit.values("RuntimeDirectory"):
        path = unit.runtime_root / directory
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        if account is not None and os.geteuid() == 0:
            os.chown(path, account.pw_uid, account.pw_gid)
    command = unit.command(env)
    if account is not None and os.geteuid() == 0:
        group = unit.value("Group") or str(account.pw_gid)
        command = ["setpriv", f"--reuid={account.pw_name}", f"--regid={group}", "--init-groups", "--", *command]
    elif account is not None and account.pw_uid != os.geteuid():
        raise PermissionError(f"{unit.name} runs as {account.pw_name}: only root can start it so")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{unit.name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
    log.write(f"\n===== {time.strftime('%H:%M:%S')} {shlex.join(command)}\n".encode())
    log.flush()
    proc = subprocess.Popen(
        command,
        cwd=unit.value("WorkingDirectory") or "/",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return RunningUnit(unit, proc, log_path, log)
