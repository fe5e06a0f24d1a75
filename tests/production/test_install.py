"""What deploy/install.sh leaves on the machine: files only the service may read, processes that are
not root, a role that needs its password, an admin password that is nowhere on disk.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

import psycopg
import pytest

from tests.production.conftest import Installation

pytestmark = pytest.mark.production


def mode_owner_group(path: Path) -> tuple[int, str, str]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name


def test_settings_and_secrets_are_readable_by_root_and_the_service_account_only(installation: Installation):
    owner = "root" if os.geteuid() == 0 else installation.service_user
    group = installation.service_user if os.geteuid() == 0 else grp.getgrgid(os.getgid()).gr_name
    assert mode_owner_group(installation.conf_dir) == (0o750, owner, group)
    assert mode_owner_group(installation.conf_dir / "heartbeat.env") == (0o640, owner, group)
    for secret in ("secret_key", "api_key_pepper", "database_password", "pbx_password"):
        assert mode_owner_group(installation.conf_dir / secret) == (0o440, owner, group), secret
    settings = (installation.conf_dir / "heartbeat.env").read_text()
    assert "<" not in "".join(line for line in settings.splitlines() if not line.startswith("#"))
    for secret in ("secret_key", "api_key_pepper", "database_password", "pbx_password"):
        assert (installation.conf_dir / secret).read_text().strip() not in settings


def test_the_services_run_as_the_account_the_units_name(installation: Installation):
    expected = pwd.getpwnam(installation.service_user).pw_uid
    for name, running in installation.units.items():
        if running.proc.poll() is not None:
            continue  # the link holder the hand-over test killed
        status = Path(f"/proc/{running.pid}/status").read_text()
        real, effective = (int(x) for x in status.split("Uid:")[1].split()[:2])
        assert real == effective == expected, name


def test_the_database_role_needs_its_password_over_tcp(installation: Installation):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=installation.pg.port, dbname="heartbeat", user="heartbeat", password="wrong"
        ).close()
    assert installation.sql("SELECT current_user") == [("heartbeat",)]


def test_the_first_admin_password_was_printed_and_is_kept_nowhere(installation: Installation):
    assert installation.admin_password  # install.sh printed it (the suite signs in with it)
    for directory in (installation.conf_dir, installation.state_dir):
        for path in directory.rglob("*"):
            if path.is_file() and "static" not in path.relative_to(directory).parts:
                assert installation.admin_password.encode() not in path.read_bytes(), path
    assert not (installation.state_dir / "admin-password").exists()
