"""Settings fail loudly: no production start without SECRET_KEY, no silent typo in a boolean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_check(env: dict, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECRET_KEY", "API_KEY_PEPPER", "DEBUG", "PBX_"))}
    clean.update({"ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "heartbeat_site.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key():
    result = run_check({"API_KEY_PEPPER": "p" * 32})
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr and "Traceback" not in result.stderr


def test_it_refuses_a_placeholder_secret_key():
    result = run_check({"SECRET_KEY": "change-me", "API_KEY_PEPPER": "p" * 32})
    assert result.returncode == 2 and "placeholder" in result.stderr


def test_it_reads_secrets_from_files(tmp_path):
    (tmp_path / "key").write_text("k" * 50 + "\n")
    result = run_check({"SECRET_KEY_FILE": str(tmp_path / "key"), "API_KEY_PEPPER": "p" * 32})
    assert result.returncode == 0, result.stderr


def test_it_refuses_a_request_thread_count_below_one():
    result = run_check({"SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "WEB_THREADS": "0"})
    assert result.returncode == 2 and "WEB_THREADS=0 must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_a_boolean_typo():
    result = run_check({"SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "DEBUG": "ture"})
    assert result.returncode == 2 and "DEBUG='ture' is not a boolean" in result.stderr


@pytest.mark.parametrize(
    ("env", "check_id"),
    [
        pytest.param({"PBX_URL": "http://pbx.example/x", "PBX_PASSWORD": "x"}, "presence.E001", id="pbx-url-scheme"),
        pytest.param({"PBX_URL": "wss://pbx.example.com/PBX0/APPS/websocket"}, "presence.E002", id="pbx-no-password"),
        pytest.param({"PBX_CA_FILE": "/nonexistent/ca.pem"}, "presence.E004", id="ca-file-missing"),
        pytest.param({"TRIGGER_RATE_PER_KEY": "lots"}, "triggers.E001", id="rate-not-a-rate"),
    ],
)
def test_system_checks_name_bad_configuration(env, check_id):
    result = run_check({"SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, **env})
    assert result.returncode != 0
    assert check_id in result.stderr


def test_debug_is_off_unless_asked_for():
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "heartbeat_site.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(("value", "expected"), [(None, "True 5"), ("false", "False None")])
def test_postgresql_binds_server_side_and_prepares_statements_unless_switched_off(value, expected):
    env = {"SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "DATABASE_URL": "postgres://u@db.example/heartbeat"}
    if value is not None:
        env["DB_SERVER_SIDE_BINDING"] = value
    code = (
        "from django.conf import settings; options = settings.DATABASES['default'].get('OPTIONS', {}); "
        "print(options.get('server_side_binding', False), options.get('prepare_threshold'))"
    )
    result = run_settings({"ENV_FILE": "/nonexistent", **env}, code)
    assert result.stdout.strip() == expected, result.stderr


# What the tests below set themselves: none of it may leak in from the environment pytest runs in.
SET_BY_THE_TESTS = ("DB_", "DATABASE_", "TLS_", "VAR_DIR", "ENV_FILE", "PUBLIC_URL", "SECRET_KEY", "API_KEY_PEPPER")


def run_settings(env: dict, code: str) -> subprocess.CompletedProcess:
    """`code` after django.setup() under the production settings, in a clean environment, umask 022."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SET_BY_THE_TESTS)}
    clean.update({"DJANGO_SETTINGS_MODULE": "heartbeat_site.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        umask=0o022,
    )


def test_var_dir_is_read_from_the_env_file(tmp_path):
    var = tmp_path / "elsewhere"
    (tmp_path / ".env").write_text(f"SECRET_KEY={'k' * 50}\nAPI_KEY_PEPPER={'p' * 32}\nVAR_DIR={var}\n")
    code = "from django.conf import settings; print(settings.VAR_DIR); print(settings.DATABASES['default']['NAME'])"
    result = run_settings({"ENV_FILE": str(tmp_path / ".env")}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(var), str(var / "heartbeat.sqlite3")]


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    code = "from django.db import connection; connection.ensure_connection(); connection.close()"
    env = {"ENV_FILE": "/nonexistent", "SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "VAR_DIR": str(tmp_path)}
    result = run_settings(env, code)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "heartbeat.sqlite3"
    assert database.stat().st_mode & 0o777 == 0o600


def test_an_existing_sqlite_database_is_made_readable_by_its_owner_only(tmp_path):
    database = tmp_path / "heartbeat.sqlite3"
    database.touch(mode=0o644)
    database.chmod(0o644)
    env = {"ENV_FILE": "/nonexistent", "SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32, "VAR_DIR": str(tmp_path)}
    result = run_settings(env, "from django.conf import settings")
    assert result.returncode == 0, result.stderr
    assert database.stat().st_mode & 0o777 == 0o600


def read_settings(env: dict, expression: str) -> subprocess.CompletedProcess:
    """`expression` printed from the real settings, with no env file, a valid secret key and pepper, and `env`."""
    defaults = {"ENV_FILE": "/nonexistent", "SECRET_KEY": "k" * 50, "API_KEY_PEPPER": "p" * 32}
    return run_settings({**defaults, **env}, f"from django.conf import settings; print({expression})")


def test_it_reads_the_database_password_from_a_file_apart_from_the_url(tmp_path):
    (tmp_path / "database_password").write_text("s3cret-pw\n")
    result = read_settings(
        {
            "DATABASE_URL": "postgres://heartbeat@127.0.0.1:5432/heartbeat",
            "DATABASE_PASSWORD_FILE": str(tmp_path / "database_password"),
        },
        "settings.DATABASES['default']['USER'], settings.DATABASES['default']['PASSWORD']",
    )
    assert result.stdout.strip() == "heartbeat s3cret-pw", result.stderr


def test_it_refuses_a_tls_certificate_without_its_key():
    result = read_settings({"TLS_CERT_FILE": "/etc/ssl/cert.pem"}, "settings.TLS_CERT_FILE")
    assert result.returncode != 0
    assert "Set both TLS_CERT_FILE" in result.stderr and "TLS_KEY_FILE" in result.stderr


def test_the_public_url_says_https_when_runheartbeat_serves_tls():
    result = read_settings(
        {"TLS_CERT_FILE": "/etc/ssl/cert.pem", "TLS_KEY_FILE": "/etc/ssl/key.pem", "PORT": "8443"},
        "settings.PUBLIC_URL",
    )
    assert result.stdout.strip() == "https://127.0.0.1:8443", result.stderr
