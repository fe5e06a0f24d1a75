"""`manage.py check --deploy` is clean with the documented production settings, scaled and small.

The settings come from deploy/production.env.example and deploy/small.env.example (read as the `.env` file through
ENV_FILE), so the documentation cannot drift from what passes. Only what the example leaves for the
operator to fill in is supplied here: the secret files and the licence issuer's key.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing import tokens

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "production.env.example"
SMALL = ROOT / "deploy" / "small.env.example"
SECRETS = ("SECRET_KEY", "API_KEY_PEPPER", "PBX_PASSWORD", "DATABASE_PASSWORD")


def documented(example: Path = EXAMPLE) -> dict[str, str]:
    values = {}
    for line in example.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


@pytest.fixture(params=[EXAMPLE, SMALL], ids=["scaled", "small"])
def production_env(request, tmp_path) -> dict[str, str]:
    """The process environment for manage.py: the example as ENV_FILE, test secrets in files."""
    example = request.param
    names = documented(example)
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith(("DJANGO_", *SECRETS))}
    for name in SECRETS:
        if f"{name}_FILE" not in names:
            continue
        path = tmp_path / name.lower()
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o400)
        env[f"{name}_FILE"] = str(path)
    env["LICENSE_PUBLIC_KEY"] = tokens.public_b64(Ed25519PrivateKey.generate().public_key())
    env["VAR_DIR"] = env["STATIC_ROOT"] = str(tmp_path)
    env["ENV_FILE"] = str(example)
    env["DJANGO_SETTINGS_MODULE"] = "heartbeat_site.settings"
    return env


def test_the_example_documents_the_hardening_settings():
    values = documented()
    assert values["DEBUG"] == "false"
    assert values["TRUST_PROXY_HEADERS"] == values["SECURE_SSL_REDIRECT"] == values["SECURE_COOKIES"] == "true"
    assert int(values["SECURE_HSTS_SECONDS"]) >= 31536000
    assert values["DATABASE_URL"].startswith("postgres://") and values["REDIS_URL"].startswith("redis://")
    assert values["PBX_URL"].startswith("wss://")
    assert not any(values.get(name) for name in ("SECRET_KEY", "API_KEY_PEPPER", "PBX_PASSWORD", "DATABASE_PASSWORD"))
    assert values["DATABASE_PASSWORD_FILE"] and "@127.0.0.1" in values["DATABASE_URL"], "a password over TCP"


def test_the_small_example_serves_https_itself_without_a_proxy():
    values = documented(SMALL)
    assert values["TLS_CERT_FILE"] and values["TLS_KEY_FILE"] and values["PORT"] == "443"
    assert values["TRUST_PROXY_HEADERS"] == "false", "nothing in front sets X-Forwarded-*"
    assert "DATABASE_URL" not in values and "REDIS_URL" not in values


def test_check_deploy_is_clean_with_the_documented_production_settings(production_env):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?:" not in output, output
