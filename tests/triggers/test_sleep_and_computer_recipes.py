"""The recipes' computer-level reports, run for real against the live server: the Linux system unit's
startup/shutdown script (no user, only the device) and the macOS sleep/wake commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from triggers import recipes
from triggers.models import Trigger

pytestmark = [pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]


def write(tmp_path: Path, os_name: str, clear: str) -> dict[str, Path]:
    files = recipes.render(os_name, key=clear)
    paths = {}
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[name] = path
    return paths


def run(script: Path, *args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def clear_key(live_server, settings):
    from triggers.models import ApiKey

    settings.PUBLIC_URL = live_server.url
    return ApiKey.create("computers")[1]


def test_the_linux_computer_script_reports_startup_and_shutdown_with_only_the_device(clear_key, tmp_path):
    paths = write(tmp_path, "linux", clear_key)
    paths["key"].chmod(0o600)
    env = {"PH_KEY_FILE": str(paths["key"]), "PH_DEVICE": "ws-17"}
    began = timezone.now().replace(microsecond=0)
    for event in ("startup", "shutdown"):
        done = run(paths["presence-heartbeat-computer.sh"], event, env=env)
        assert done.returncode == 0, done.stderr
        assert f"{event} sent for ws-17" in done.stderr and clear_key not in done.stderr
    rows = list(Trigger.objects.order_by("id"))
    assert [(r.event, r.device, r.computer, r.user_value, r.pbx_user_id) for r in rows] == [
        ("startup", "ws-17", "ws-17", "", None),
        ("shutdown", "ws-17", "ws-17", "", None),
    ]
    assert all(r.for_device_only and r.status == "queued" and began <= r.at <= timezone.now() for r in rows)
    assert len({r.client_id for r in rows}) == 2


def test_the_linux_computer_script_refuses_an_unknown_event_and_a_missing_key(clear_key, tmp_path):
    paths = write(tmp_path, "linux", clear_key)
    script = paths["presence-heartbeat-computer.sh"]
    assert run(script, "lock", env={"PH_KEY_FILE": str(paths["key"])}).returncode == 64
    assert run(script, "shutdown", env={"PH_KEY_FILE": str(tmp_path / "nope")}).returncode == 78
    assert not Trigger.objects.exists()


FAKE_IOREG = """#!/bin/bash
printf '    "IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=Yes,"kCGSSessionUserNameKey"="alice",'
printf '"CGSSessionScreenIsLocked"=%s})\\n' "$(cat "$FAKE_IOREG_STATE")"
"""


def test_the_macos_sleep_and_wake_commands_report_sleep_then_resume_or_lock(clear_key, alice, tmp_path):
    paths = write(tmp_path, "macos", clear_key)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ioreg").write_text(FAKE_IOREG)
    (bin_dir / "ioreg").chmod(0o755)
    screen = tmp_path / "locked"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PH_DIR": str(tmp_path),
        "PH_LOGIN": "alice",
        "PH_DEVICE": "MacBook-7",
        "FAKE_IOREG_STATE": str(screen),
    }
    script = paths["presence-heartbeat.sh"]

    def events() -> list[str]:
        return list(Trigger.objects.order_by("id").values_list("event", flat=True))

    screen.write_text("No")
    assert run(script, "sleep", env=env).returncode == 0
    assert run(script, "wake", env=env).returncode == 0
    assert run(script, "wake", env=env).returncode == 0  # the agent's loop noticed it too: one resume
    assert events() == ["sleep", "resume"]
    screen.write_text("Yes")  # asleep, then woken to the locked screen
    assert run(script, "sleep", env=env).returncode == 0
    assert run(script, "wake", env=env).returncode == 0
    assert events() == ["sleep", "resume", "sleep", "lock"]
    assert set(Trigger.objects.values_list("device", "pbx_user_id")) == {("MacBook-7", alice.pk)}
