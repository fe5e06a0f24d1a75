"""The simulator's own contract: what tests and the embedded default rely on beyond the protocol."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError
from websockets.asyncio.client import connect
from websockets.sync.client import connect as connect_sync

from presence.management.commands.runpbxsim import load_users
from presence.pbx import check_login, login_digest
from presence.pbx.simulator import SimulatorThread, generate_users

from . import APP, PASSWORD, config_for, running_client, simulator, wait_until

ROOT = Path(__file__).resolve().parents[3]


def test_generated_users_follow_the_documented_pattern() -> None:
    users = generate_users(3)
    assert [(u.h323, u.e164, u.emails) for u in users] == [
        ("user0", "1000", ["user0@example.com"]),
        ("user1", "1001", ["user1@example.com"]),
        ("user2", "1002", ["user2@example.com"]),
    ]
    assert all(len(u.guid) == 32 and int(u.guid, 16) >= 0 for u in users)
    assert len({u.guid for u in users}) == 3
    assert users[0].presence[0] == {"contact": "tel:", "status": "open", "activity": "", "note": ""}


async def test_an_api_message_before_login_closes_the_connection() -> None:
    async with simulator(generate_users(1)) as sim, connect(sim.url) as ws:
        await ws.send('{"api":"PbxApi","mt":"SetPresence","sip":"user0","activity":"away","note":"","src":"x"}')
        await ws.wait_closed()
        assert ws.close_code == 1008
        assert sim.received == [] and sim.presence_of("user0")["activity"] == ""


async def test_a_subscription_to_an_unknown_user_reports_it_down() -> None:
    async with simulator() as sim, running_client(sim.url) as (client, events):
        client.want_subscriptions({"ee" * 16: "ghost"})
        await wait_until(lambda: client.state().subscriptions == 1, what="the subscription")
        await wait_until(lambda: sim.connections == 1, what="the login")
        assert sim.subscriptions == set()  # nothing to watch on the PBX side
        assert events.presence == {}


def test_the_thread_runner_serves_synchronous_code() -> None:
    """Django tests are synchronous: they drive the simulator through SimulatorThread."""
    with SimulatorThread(app=APP, password=PASSWORD, users=generate_users(2), challenge="42") as sim:
        with connect_sync(sim.url) as ws:
            ws.send('{"mt":"AppChallenge"}')
            assert json.loads(ws.recv())["challenge"] == "42"
            digest = login_digest(app=APP, password=PASSWORD, challenge="42")
            ws.send(
                json.dumps(
                    {"mt": "AppLogin", "app": APP, "domain": "", "sip": "", "guid": "", "dn": "", "digest": digest}
                )
            )
            assert json.loads(ws.recv())["ok"] is True
            ws.send(
                '{"api":"PbxApi","mt":"SetPresence","sip":"user1","contact":"tel:","activity":"dnd","note":"x","src":"1"}'
            )
            assert json.loads(ws.recv()) == {"api": "PbxApi", "mt": "SetPresenceResult", "src": "1"}
        assert sim.logins == 1
        assert sim.presence_of("user1")["activity"] == "dnd"


def test_thread_call_runs_simulator_methods_on_its_loop() -> None:
    runner = SimulatorThread(users=generate_users(1))
    sim = runner.start()
    try:
        runner.call(sim.set_presence_from_phone, "user0", "away", "Lunch")
        assert runner.call(sim.presence_of, "user0")["note"] == "Lunch"
        runner.call(sim.go_down)
        runner.call(sim.come_back)
        assert runner.call(lambda: sim.url).startswith("ws://127.0.0.1:")
    finally:
        runner.stop()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{", "is not valid JSON", id="bad-json"),
        pytest.param('{"people": []}', "must hold a list of users", id="not-a-list"),
        pytest.param('[{"h323": "alice"}]', "user #1 .* needs at least a guid and an h323", id="no-guid"),
        pytest.param('[{"guid": "1", "h323": "a", "mail": "x"}]', r"unknown field\(s\) mail", id="unknown-field"),
    ],
)
def test_a_bad_users_file_is_refused_with_the_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        load_users(str(path))


async def test_runpbxsim_serves_users_from_a_file_until_sigterm(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps({"users": [{"guid": "ab" * 16, "h323": "alice", "cn": "Alice", "emails": ["alice@corp.example"]}]})
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="heartbeat_site.settings_test", PYTHONUNBUFFERED="1")
    command = [sys.executable, "manage.py", "runpbxsim", "--port", "0", "--password", "cli-pw", "--users-file"]
    process = subprocess.Popen(
        [*command, str(users_file)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("PBX simulator listening on ws://127.0.0.1:"), first
        url = first.split()[-1]
        assert "cli-pw" not in process.stdout.readline()  # the password is never echoed
        await check_login(config_for(url, password="cli-pw"))
        async with running_client(url, password="cli-pw") as (_, events):
            await wait_until(lambda: events.initial_loads == 1, what="replication")
        assert events.users["ab" * 16]["emails"] == ["alice@corp.example"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "PBX simulator stopped (2 logins" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
