"""`make run`'s .env: created with every secret, completed when it lacks one, never overwritten."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from heartbeat_site.envfile import ensure, read

ROOT = Path(__file__).resolve().parents[1]


def test_a_new_env_file_gets_every_secret_mode_600(tmp_path):
    path = tmp_path / ".env"
    added, left = ensure(path, {})
    assert added == ["SECRET_KEY", "API_KEY_PEPPER", "MYAPPS_USER_PASSWORD", "MYAPPS_ADMIN_PASSWORD"] and left == []
    values = read(path)
    assert all(len(values[name]) >= 30 for name in added)
    assert values["MYAPPS_USER_PASSWORD"] != values["MYAPPS_ADMIN_PASSWORD"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_env_file_gets_only_what_it_lacks(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# mine\nSECRET_KEY=keep-me\nAPI_KEY_PEPPER='also mine'\nPORT=8001")  # no final newline
    added, _ = ensure(path, {})
    assert added == ["MYAPPS_USER_PASSWORD", "MYAPPS_ADMIN_PASSWORD"]
    values = read(path)
    assert (values["SECRET_KEY"], values["API_KEY_PEPPER"], values["PORT"]) == ("keep-me", "also mine", "8001")
    assert ensure(path, {}) == ([], [])  # a second run changes nothing


def test_secrets_given_by_the_environment_or_a_file_are_not_added(tmp_path):
    path = tmp_path / ".env"
    path.write_text("MYAPPS_ADMIN_PASSWORD_FILE=/run/secrets/admin\n")
    added, _ = ensure(path, {"SECRET_KEY": "from the environment"})
    assert added == ["API_KEY_PEPPER", "MYAPPS_USER_PASSWORD"]


def test_with_a_real_pbx_the_app_passwords_are_left_to_the_administrator(tmp_path):
    path = tmp_path / ".env"
    path.write_text("PBX_URL=wss://pbx.example.com/PBX0/APPS/websocket\n")
    added, left = ensure(path, {})
    assert added == ["SECRET_KEY", "API_KEY_PEPPER"] and left == ["MYAPPS_USER_PASSWORD", "MYAPPS_ADMIN_PASSWORD"]
    assert "MYAPPS_USER_PASSWORD" not in read(path)


def test_it_runs_with_the_system_python_before_django_is_installed(tmp_path):
    result = subprocess.run(
        [sys.executable, "-S", "-m", "heartbeat_site.envfile", str(tmp_path / ".env")],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # no secrets inherited from the test run
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Added SECRET_KEY, API_KEY_PEPPER, MYAPPS_USER_PASSWORD, MYAPPS_ADMIN_PASSWORD" in result.stdout
    secret = read(tmp_path / ".env")["MYAPPS_USER_PASSWORD"]
    assert secret not in result.stdout  # said which, never the values


def test_its_hints_follow_language_code_from_the_environment_or_the_file(tmp_path):
    def run(env: dict, name: str) -> str:
        return subprocess.run(
            [sys.executable, "-S", "-m", "heartbeat_site.envfile", str(tmp_path / name)],
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    german = run({"LANGUAGE_CODE": "de-DE"}, "a.env")
    assert german.startswith("SECRET_KEY, API_KEY_PEPPER, ") and "hinzugefügt (frische Zufallswerte)" in german
    (tmp_path / "b.env").write_text("LANGUAGE_CODE=de\nPBX_URL=wss://pbx.example.com/PBX0/APPS/websocket\n")
    assert "PBX_URL ist gesetzt: Die myApps-Apps bleiben aus, bis MYAPPS_USER_PASSWORD" in run({}, "b.env")
    assert run({}, "c.env").startswith("Added SECRET_KEY")
