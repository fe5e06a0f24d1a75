"""The restore drill of docs/deployment.md, on PostgreSQL: backup.sh → restore.sh into a new database →
the API starts from its unit on the restored settings and keeps the licence, the API keys and the rules.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.production.client import Client
from tests.production.conftest import Installation
from tests.production.units import Unit, start_unit
from tests.services import free_port, wait_for_port

pytestmark = pytest.mark.production


def test_a_backup_restored_into_a_new_database_keeps_its_licence_keys_and_rules(installation: Installation):
    rules = installation.manage("exportconfig")
    licence = installation.manage("license", "show")
    assert "State:       valid" in licence

    backup = Path(installation.script("backup.sh", str(installation.root / "backups")).strip().splitlines()[-1])
    assert sorted(p.name for p in backup.iterdir()) == ["conf.tar", "database.dump", "manifest", "state.tar"]
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700, "the backup holds the secrets"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in backup.iterdir())

    restored = installation.root / "restored"
    port = free_port()
    where = {
        "CONF_DIR": str(restored / "etc"),
        "STATE_DIR": str(restored / "var"),
        "DB_NAME": "heartbeat_restored",
        "SYSTEMD_ROOT": str(restored / "systemd"),
        "API_PORT": str(port),
    }
    installation.script("restore.sh", str(backup), **where)
    installation.script("install.sh", "migrate", "units", **where)

    # The restored settings name the restored secrets, directories and database; the secrets are as they were.
    settings = (restored / "etc" / "heartbeat.env").read_text()
    assert f"SECRET_KEY_FILE={restored}/etc/secret_key" in settings
    assert settings.count("/heartbeat_restored") == 1 and f"VAR_DIR={restored}/var" in settings
    for secret in ("secret_key", "api_key_pepper", "database_password", "pbx_password"):
        assert (restored / "etc" / secret).read_bytes() == (installation.conf_dir / secret).read_bytes()
        assert stat.S_IMODE((restored / "etc" / secret).stat().st_mode) == 0o440

    assert installation.manage("license", "show", conf_dir=restored / "etc") == licence
    assert installation.manage("exportconfig", conf_dir=restored / "etc") == rules

    unit = Unit.load(restored / "systemd" / "etc" / "systemd" / "system", "heartbeat-api.service", restored / "run")
    api = start_unit(unit, installation.logs / "restored")
    try:
        wait_for_port(port, timeout=60)
        gunicorn = Client("localhost", port, installation.certificates.ca_file, scheme="http")
        answer = gunicorn.post_trigger(
            installation.api_key, {"user": "carol", "event": "lock"}, {"X-Forwarded-Proto": "https"}
        )
        assert answer.status == 202, answer.text
    finally:
        api.stop()
    carol = "SELECT count(*) FROM triggers_trigger WHERE user_value = 'carol'"  # nobody posted for carol before
    assert installation.sql(carol, dbname="heartbeat_restored") == [(1,)]
    assert installation.sql(carol) == [(0,)], "the restored service wrote into the original database"
