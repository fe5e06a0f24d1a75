"""A small install serves HTTPS itself: `runheartbeat` with TLS_CERT_FILE / TLS_KEY_FILE.

Windows clients must reach the service over HTTPS with a certificate they trust. The certificate
here comes from the suite's own CA (root → intermediate → server); curl trusts the root only, so a
server that sent the leaf without its intermediate would be refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from presence.models import PbxUser
from tests.e2e.conftest import SIM_PASSWORD
from tests.e2e.stack import ROOT, Process, child_env, wait_until
from tests.pki import make_test_ca
from tests.services import free_port, in_ci, wait_for_port
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def certificates(tmp_path):
    return make_test_ca(tmp_path / "tls")


def curl(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("curl") is None:
        if in_ci():
            pytest.fail("curl is not installed (Debian package: curl)")
        pytest.skip("curl is not installed (apt-get install -y curl)")
    command = ["curl", "--silent", "--show-error", "--noproxy", "*", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_runheartbeat_serves_https_with_the_whole_chain_and_applies_a_trigger(sim, rules, licensed, key, certificates):
    port = free_port()
    env = child_env(
        PBX_URL=sim.simulator.url,
        PBX_PASSWORD=SIM_PASSWORD,
        TLS_CERT_FILE=str(certificates.cert_file),
        TLS_KEY_FILE=str(certificates.key_file),
        ALLOWED_HOSTS="localhost",
    )
    server = Process("server-tls", ["runheartbeat", "--port", str(port)], env)
    try:
        wait_for_port(port, timeout=30)
        count = len(sim.simulator.users)
        wait_until(lambda: PbxUser.objects.count() >= count, 60, message="the directory to be replicated")
        base = f"https://localhost:{port}"
        health = curl("--cacert", str(certificates.ca_file), "--write-out", "\n%{http_code}", f"{base}/healthz")
        assert health.returncode == 0, health.stderr
        assert health.stdout.rsplit("\n", 1)[1] == "200"

        user = sim.simulator.users[0]
        posted = curl(
            "--cacert",
            str(certificates.ca_file),
            "-H",
            f"Authorization: Bearer {key}",
            "-d",
            f"user={user.h323}",
            "-d",
            "event=lock",
            f"{base}/api/v1/triggers",
        )
        assert posted.returncode == 0, posted.stderr
        trigger_id = json.loads(posted.stdout)["id"]
        wait_until(
            lambda: Trigger.objects.get(pk=trigger_id).status == "applied", 30, message="the trigger to be applied"
        )
        assert sim.simulator.presence_of(user.guid)["activity"] == "away"

        # Without the CA, curl refuses the certificate; plain HTTP on the TLS port gets no answer.
        untrusted = curl(f"{base}/healthz")
        assert untrusted.returncode == 60, (untrusted.returncode, untrusted.stderr)  # peer certificate not trusted
        plain = curl("--max-time", "10", f"http://localhost:{port}/healthz")
        assert plain.returncode != 0
    finally:
        server.stop()
    assert "Presence Heartbeat on https://" in server.output()


def test_runheartbeat_refuses_to_start_with_an_unreadable_key(certificates, tmp_path):
    env = child_env(TLS_CERT_FILE=str(certificates.cert_file), TLS_KEY_FILE=str(tmp_path / "missing.pem"))
    done = subprocess.run(
        [sys.executable, "manage.py", "runheartbeat", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "TLS_KEY_FILE=" in done.stderr and "cannot be read" in done.stderr
