"""The deploy files and the documents that describe them cannot drift apart.

- `systemd-analyze verify` accepts the units as deploy/install.sh installs them (it works without
  systemd running: a container, CI), and the install enables the target so that everything starts
  at boot.
- docs/deployment.md quotes deploy/install.sh, backup.sh and restore.sh verbatim.
- Every setting the code reads from the environment has its row in the README.
- The scripts pass shellcheck.
Where Debian's systemd or shellcheck is missing these skip loudly — except in CI (CI=true).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import in_ci

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SCRIPTS = ["install.sh", "backup.sh", "restore.sh"]


def need(program: str, package: str) -> str:
    found = shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        message = f"{program} is not installed (Debian package: {package})"
        if in_ci():
            pytest.fail(message)
        print("\n" + "!" * 78 + f"\n!! SKIPPING: {message}\n" + "!" * 78)
        pytest.skip(message)
    return found


@pytest.fixture
def installed_units(tmp_path) -> Path:
    """`deploy/install.sh units` into a scratch root, for this checkout (its .venv holds the programs)."""
    need("systemctl", "systemd")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "SYSTEMD_ROOT": str(tmp_path),
        "APP_DIR": str(ROOT),
        "CONF_DIR": str(tmp_path / "etc" / "presence-heartbeat"),
        "STATE_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        ["sh", str(DEPLOY / "install.sh"), "units"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "etc" / "systemd" / "system"


def test_systemd_analyze_verify_accepts_the_installed_units(installed_units, tmp_path):
    analyze = need("systemd-analyze", "systemd")
    # The small install's unit is not installed by install.sh: put it beside the others the same way.
    standalone = (DEPLOY / "heartbeat-standalone.service").read_text().replace("/opt/presence-heartbeat", str(ROOT))
    (installed_units / "heartbeat-standalone.service").write_text(standalone)
    for template, instance in (("heartbeat-web@.service", "8101"), ("heartbeat-worker@.service", "9311")):
        (installed_units / template.replace("@", f"@{instance}")).symlink_to(template)
    names = [
        "heartbeat-api.service",
        "heartbeat-web@8101.service",
        "heartbeat-worker@9311.service",
        "presence-heartbeat.target",
        "heartbeat-standalone.service",
    ]
    done = subprocess.run(
        [analyze, "verify", *(str(installed_units / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # verify exits 0 on some problems (an unknown key is "ignored"): any message is a failure.
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


def test_systemd_analyze_verify_reports_a_broken_unit(installed_units):
    """The check above can fail: a misspelt key in a unit is reported."""
    analyze = need("systemd-analyze", "systemd")
    unit = installed_units / "heartbeat-api.service"
    unit.write_text(unit.read_text().replace("Restart=always", "Restrat=always"))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert "Unknown key" in done.stdout + done.stderr


def test_install_enables_the_target_and_every_unit_so_that_a_reboot_starts_them(installed_units):
    assert (installed_units / "multi-user.target.wants" / "presence-heartbeat.target").is_symlink()
    wanted = sorted(p.name for p in (installed_units / "presence-heartbeat.target.wants").iterdir())
    assert wanted == [
        "heartbeat-api.service",
        "heartbeat-web@8101.service",
        "heartbeat-web@8102.service",
        "heartbeat-worker@9311.service",
        "heartbeat-worker@9312.service",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_guide_quotes_the_script_verbatim(script):
    guide = (ROOT / "docs" / "deployment.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", guide, re.S)
    assert (DEPLOY / script).read_text() in blocks, f"docs/deployment.md must quote deploy/{script} as it is"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_scripts_pass_shellcheck(script):
    shellcheck = need("shellcheck", "shellcheck")
    done = subprocess.run([shellcheck, str(DEPLOY / script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def settings_read() -> set[str]:
    """Every environment variable the code reads (settings, gunicorn's config, metrics)."""
    names: set[str] = set()
    for path in (ROOT / "heartbeat_site").rglob("*.py"):
        if path.name == "settings_test.py":
            continue
        text = path.read_text()
        names |= set(re.findall(r'(?:env\.\w+|_bool|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"', text))
        for secret in re.findall(r'_secret\(\s*"([A-Z][A-Z0-9_]*)"', text):
            names |= {secret, f"{secret}_FILE"}
    return names


def test_every_setting_the_code_reads_has_a_row_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    rows = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", rows))
    read = settings_read()
    assert {"API_BIND", "TRIGGER_MAX_FUTURE_SECONDS", "DATABASE_PASSWORD_FILE", "TLS_CERT_FILE"} <= read
    assert read - documented == set(), "settings read by the code but missing from README.md's table"
