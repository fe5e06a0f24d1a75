"""AppChallenge/AppLogin against the simulator: success, clear failures, and a backoff that holds."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re

import pytest
from websockets.asyncio.client import connect

from presence.pbx import LoginFailed, check_login, login_digest
from presence.pbx.simulator import WS_PATH
from tests.services import free_port

from . import APP, PASSWORD, config_for, running_client, simulator, wait_until

VECTOR_4_INFO = {
    "appobj": "users",
    "apps": [{"name": "users"}, {"name": "profile"}],
    "appurl": "https://1.2.3.4/example.com/usersapp/innovaphone-users",
    "unlicensed": True,
}


async def test_it_logs_in_with_the_documented_app_login() -> None:
    async with simulator(challenge="5729163403145832") as sim, running_client(sim.url) as (client, events):
        assert await client.wait_connected(timeout=30)
        await wait_until(lambda: events.connected == 1, what="on_connected")
        state = client.state()
        assert state.connected and state.logged_in_at is not None and state.reconnects == 0
        assert sim.logins == 1 and sim.connections == 1
        # Reference §7.2: empty domain/sip/guid/dn, no info, no session key, the documented digest.
        assert sim.last_login == {
            "mt": "AppLogin",
            "app": APP,
            "domain": "",
            "sip": "",
            "guid": "",
            "dn": "",
            "digest": "0dd89613416ded88e91c07ab1b949f15a857331c8b87b2100fc0a26441904733",
        }


@pytest.mark.parametrize(
    ("app", "password", "challenge", "login"),
    [
        pytest.param("pbxadminapi", "pwd", "0123456789abcdef", {}, id="doc-1-no-info"),
        pytest.param("pbxadminapi", "pwd", "0123456789abcdef", {"info": {}}, id="doc-2-empty-info"),
        pytest.param("pbxadminapi", "pwd", "0123456789abcdef", {"info": {"cn": "Test User"}}, id="doc-3-info"),
        pytest.param(
            "innovaphone-users",
            "pwd",
            "0123456789abcdef",
            {
                "domain": "example.com",
                "sip": "administrator",
                "guid": "0123456789abcdef0123456789abcdef",
                "dn": "Administrator User",
                "pbxObj": "users",
                "info": VECTOR_4_INFO,
            },
            id="doc-4-user-fields-and-info",
        ),
        pytest.param("test", "secret", "0", {"domain": "test.com"}, id="doc-5-rcc-tutorial"),
    ],
)
async def test_the_simulator_accepts_each_official_test_vector(
    app: str, password: str, challenge: str, login: dict
) -> None:
    """The simulator checks digests like the PBX, so a client that passes it computes them like the docs."""
    async with simulator(app=app, password=password, challenge=challenge) as sim, connect(sim.url) as ws:
        await ws.send('{"mt":"AppChallenge"}')
        assert json.loads(await ws.recv()) == {"mt": "AppChallengeResult", "challenge": challenge}
        fields = {k: v for k, v in login.items() if k in ("domain", "sip", "guid", "dn", "info")}
        digest = login_digest(app=app, password=password, challenge=challenge, **fields)
        await ws.send(json.dumps({"mt": "AppLogin", "app": app, **login, "digest": digest}, ensure_ascii=False))
        assert json.loads(await ws.recv()) == {"mt": "AppLoginResult", "ok": True}
        assert sim.logins == 1


async def test_the_simulator_rejects_a_wrong_digest_and_closes() -> None:
    async with simulator(challenge="0123456789abcdef") as sim, connect(sim.url) as ws:
        await ws.send('{"mt":"AppChallenge"}')
        await ws.recv()
        await ws.send(
            json.dumps(
                {"mt": "AppLogin", "app": APP, "domain": "", "sip": "", "guid": "", "dn": "", "digest": "0" * 64}
            )
        )
        assert json.loads(await ws.recv()) == {"mt": "AppLoginResult", "ok": False}
        await asyncio.wait_for(ws.wait_closed(), timeout=30)
        assert sim.logins == 0 and sim.login_attempts == 1


@pytest.mark.parametrize(
    ("password", "refuse"),
    [pytest.param("wrong", False, id="wrong-password"), pytest.param(PASSWORD, True, id="pbx-refuses")],
)
async def test_a_refused_login_says_what_to_check(password: str, refuse: bool) -> None:
    async with simulator() as sim:
        sim.refuse_logins = refuse
        with pytest.raises(LoginFailed) as failure:
            await check_login(config_for(sim.url, password=password))
    assert failure.value.kind == "wrong_password"
    assert failure.value.reason.startswith(
        f"PBX refused the login for App object '{APP}': wrong password or App object name"
    )
    assert PASSWORD not in failure.value.reason


@pytest.mark.parametrize(
    ("url", "kind", "text"),
    [
        pytest.param(
            f"ws://127.0.0.1:{free_port()}{WS_PATH}", "unreachable", "cannot reach the PBX", id="nobody-listens"
        ),
        pytest.param("SIM/wrong/path", "unreachable", "HTTP 404: check the path of PBX_URL", id="wrong-path"),
    ],
)
async def test_an_unreachable_pbx_is_not_reported_as_a_wrong_password(url: str, kind: str, text: str) -> None:
    async with simulator() as sim:
        url = url.replace("SIM", sim.url.removesuffix(WS_PATH))
        with pytest.raises(LoginFailed) as failure:
            await check_login(config_for(url))
    assert failure.value.kind == kind
    assert text in failure.value.reason


async def test_a_wrong_password_backs_off_instead_of_storming() -> None:
    async with simulator() as sim, running_client(sim.url, password="wrong") as (client, events):
        await wait_until(lambda: sim.login_attempts >= 4, what="four refused logins")
        # 0.5 s doubling (+ up to 25 % jitter): the PBX sees each attempt at least 0.5, 1 and 2 s after
        # the one before. Lower bounds only: a busy machine makes the gaps longer, never shorter.
        gaps = [later - earlier for earlier, later in itertools.pairwise(sim.login_times[:4])]
        assert all(gap >= least - 0.01 for gap, least in zip(gaps, [0.5, 1.0, 2.0], strict=True)), gaps
        state = client.state()
        assert not state.connected
        assert "wrong password or App object name" in state.last_error
        assert state.reconnects == sim.login_attempts - 1
        assert events.connected == 0 and events.disconnects == []


RECONNECTING = re.compile(r"reconnecting to the PBX in ([0-9.]+) s")


def reconnect_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The delays the client chose before each reconnect, from its own log line."""
    found = (RECONNECTING.fullmatch(record.getMessage()) for record in caplog.records)
    return [float(match.group(1)) for match in found if match]


async def test_the_backoff_starts_over_after_a_good_login(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="presence.pbx")
    async with (
        simulator() as sim,
        running_client(sim.url, backoff_min=0.1, backoff_max=6.4) as (client, _events),
    ):
        sim.refuse_logins = True
        await wait_until(lambda: sim.login_attempts >= 5, what="five refused logins")
        sim.refuse_logins = False
        await wait_until(lambda: client.connected, what="a good login")
        # Five refusals: 0.1 s doubling has grown to 1.6 s (+ up to 25 % jitter).
        assert reconnect_delays(caplog)[-1] >= 1.6
        caplog.clear()
        await sim.drop_all()
        await wait_until(lambda: not client.connected, what="the drop")
        await wait_until(lambda: client.connected, what="the reconnect")
        # After a good login the delay is back at 0.1 s (+ jitter, shown rounded), not 3.2 s.
        assert reconnect_delays(caplog) == [0.1]
        assert sim.logins == 2


async def test_the_password_and_digest_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with simulator() as sim, running_client(sim.url) as (client, _):
        await client.wait_connected(timeout=30)
        digest = sim.last_login["digest"]
    async with simulator() as sim, running_client(sim.url, password="not-the-secret-42") as (client, _):
        await wait_until(lambda: sim.login_attempts == 1, what="a refused login")
    assert "AppLogin frame (digest hidden)" in caplog.text  # websockets' frame log was there, masked
    assert digest not in caplog.text and digest[:16] not in caplog.text
    assert PASSWORD not in caplog.text and "not-the-secret-42" not in caplog.text
