"""The Linux recipe, run for real: the rendered script against the live server and private D-Bus buses.

Two private dbus-daemons stand in for the machine's buses: one plays the system bus (where logind
would live) and one the user's session bus (where GNOME's screensaver lives). The test emits the
signals the desktop would emit and reads the trigger log the server wrote. Nobody owns the name
org.freedesktop.login1 on the private "system" bus, so the script is told to trust any sender
(PH_LOGIND_SENDER=""); everything else runs exactly as deployed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.utils import timezone

from triggers import recipes
from triggers.models import ApiKey, Trigger

SESSION_PATH = "/org/freedesktop/login1/session/_32"
DEVICE = "ws-17.corp.example"
LOCKS = ["logon", "lock", "unlock", "lock"]  # the trigger log after the first two locks
TOOLS = ("dbus-daemon", "gdbus", "dbus-monitor", "dbus-send", "curl")


def _need_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    message = f"missing {', '.join(missing)} (Debian: apt-get install dbus libglib2.0-bin curl)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    print("\n" + "!" * 78 + f"\n!! SKIPPING the Linux recipe run: {message}\n" + "!" * 78)
    pytest.skip(message)


@pytest.fixture
def private_bus():
    """Starts private dbus-daemons; yields a function that makes one and returns its address."""
    _need_tools()
    daemons: list[subprocess.Popen] = []

    def start() -> str:
        daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        daemons.append(daemon)
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:"), address
        return address

    yield start
    for daemon in daemons:
        daemon.terminate()
        daemon.wait(timeout=5)


def emit(address: str, path: str, signal_name: str, *args: str) -> None:
    """`gdbus emit`, again when it fails: on a busy machine it now and then exits with "Error flushing
    connection" after the signal went out, or before. Every signal here may arrive twice: the script
    reports a state only when it changes (which is what the test checks)."""
    command = ["gdbus", "emit", "--address", address, "--object-path", path, "--signal", signal_name, *args]
    attempts = [subprocess.run(command, capture_output=True, text=True, timeout=30)]
    while attempts[-1].returncode != 0 and len(attempts) < 5:
        attempts.append(subprocess.run(command, capture_output=True, text=True, timeout=30))
    assert attempts[-1].returncode == 0, f"gdbus emit failed {len(attempts)} times: {attempts[-1].stderr}"


def locked_hint(address: str, value: bool) -> None:
    emit(
        address,
        SESSION_PATH,
        "org.freedesktop.DBus.Properties.PropertiesChanged",
        "'org.freedesktop.login1.Session'",
        # IdleHint first: the script must pick LockedHint out of the changed properties.
        f"{{'IdleHint': <{str(not value).lower()}>, 'LockedHint': <{str(value).lower()}>}}",
        "@as []",
    )


def screensaver(address: str, active: bool) -> None:
    emit(address, "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.ActiveChanged", str(active).lower())


def prepare_for_sleep(address: str, before: bool) -> None:
    emit(address, "/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", str(before).lower())


def events() -> list[str]:
    return list(Trigger.objects.exclude(event="heartbeat").order_by("id").values_list("event", flat=True))


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; trigger log: {events()}")


def until_logged(send, expected: list[str], timeout: float = 60.0) -> None:
    """Emit until the log shows `expected`: dbus-monitor subscribes asynchronously after the script starts,
    so the first signal on each bus may be emitted before anyone listens. Repeats are harmless because the
    script reports a lock state only when it changes; each waits a second for the last (longer on a
    busy machine costs only repeats), until `timeout` in all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        try:
            wait_for(lambda: events() == expected, f"{expected[-1]}", timeout=1.0)
            return
        except AssertionError:
            continue
    raise AssertionError(f"never saw {expected}; trigger log: {events()}")


@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_the_linux_script_reports_logind_screensaver_sleep_and_resume_signals(
    live_server, settings, private_bus, alice, tmp_path: Path
):
    settings.PUBLIC_URL = live_server.url
    key_row, clear_key = ApiKey.create("linux desktops")
    files = recipes.render("linux", key=clear_key, heartbeat_minutes=1)
    script = tmp_path / "presence-heartbeat.sh"
    script.write_bytes(files["presence-heartbeat.sh"])
    key_file = tmp_path / "key"
    key_file.write_bytes(files["key"])
    key_file.chmod(0o644)  # as a careless copy would leave it: the script must tighten it
    system_bus, session_bus = private_bus(), private_bus()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "DBUS_SYSTEM_BUS_ADDRESS": system_bus,
        "DBUS_SESSION_BUS_ADDRESS": session_bus,
        "PH_KEY_FILE": str(key_file),
        "PH_USER": "alice",
        "PH_DEVICE": DEVICE,
        "PH_SESSION_PATH": SESSION_PATH,
        "PH_LOGIND_SENDER": "",
        "PH_HEARTBEAT_SECONDS": "2",
    }
    log_path = tmp_path / "script.log"
    began = timezone.now().replace(microsecond=0)  # the script sends `at` in whole seconds
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(script)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(lambda: events() == ["logon"], "logon")
            assert oct(key_file.stat().st_mode & 0o777) == oct(0o600)

            until_logged(lambda: locked_hint(system_bus, True), ["logon", "lock"])
            until_logged(lambda: locked_hint(system_bus, False), ["logon", "lock", "unlock"])
            until_logged(lambda: screensaver(session_bus, True), ["logon", "lock", "unlock", "lock"])
            # GNOME reports one lock (and one unlock) on both buses: the second report is not sent again.
            # Each bus has its own dbus-monitor, so the order between buses is not fixed; a report's
            # effect is read from the next change on the *same* bus, which the script handles after it.
            locked_hint(system_bus, True)  # the lock again, from logind: nothing to send
            until_logged(lambda: locked_hint(system_bus, False), ["logon", "lock", "unlock", "lock", "unlock"])
            screensaver(session_bus, False)  # the unlock again, from the screensaver: nothing to send
            until_logged(lambda: screensaver(session_bus, True), [*LOCKS, "unlock", "lock"])
            until_logged(lambda: screensaver(session_bus, False), [*LOCKS, "unlock", "lock", "unlock"])
            before_sleep = [*LOCKS, "unlock", "lock", "unlock"]
            until_logged(lambda: prepare_for_sleep(system_bus, True), [*before_sleep, "sleep"])
            # Woken with the screen unlocked: the user is back.
            until_logged(lambda: prepare_for_sleep(system_bus, False), [*before_sleep, "sleep", "resume"])
            # Locked, asleep, woken to the locked screen: it says locked (not resume) until the unlock.
            awake = [*before_sleep, "sleep", "resume"]
            until_logged(lambda: locked_hint(system_bus, True), [*awake, "lock"])
            until_logged(lambda: prepare_for_sleep(system_bus, True), [*awake, "lock", "sleep"])
            until_logged(lambda: prepare_for_sleep(system_bus, False), [*awake, "lock", "sleep", "lock"])
            until_logged(lambda: locked_hint(system_bus, False), [*awake, "lock", "sleep", "lock", "unlock"])
            wait_for(lambda: Trigger.objects.filter(event="heartbeat").exists(), "a heartbeat")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
            print(log_path.read_text())  # shown when the test fails

    assert process.returncode == 0
    assert events()[-1] == "logoff"
    rows = list(Trigger.objects.all())
    assert {row.status for row in rows} == {"queued"}
    assert {row.device for row in rows} == {DEVICE}
    assert {row.pbx_user_id for row in rows} == {alice.pk}
    assert {row.key_name for row in rows} == {key_row.name}
    assert len({row.client_id for row in rows}) == len(rows), "every trigger carries its own idempotency id"
    assert all(began <= row.at <= timezone.now() for row in rows)  # when it happened, by the computer's clock
    output = log_path.read_text()
    assert clear_key not in output and "logon sent" in output
    # The script's watchers went with it: nothing of its process group is left running.
    wait_for(lambda: not alive_in_group(process.pid), "the watchers to stop")


def alive_in_group(pgid: int) -> list[str]:
    """Processes of the group that are not zombies (orphans wait for a reaper that may be slow)."""
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(pgid)], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if line.split()[1][0] != "Z"]
