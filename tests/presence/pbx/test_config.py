"""LinkConfig refuses settings that cannot work; TLS is verified unless explicitly switched off."""

from __future__ import annotations

import ssl

import pytest

from presence.pbx import LinkConfig, make_ssl_context


def test_plain_ws_needs_no_tls_context() -> None:
    assert make_ssl_context("ws://127.0.0.1:8080/PBX0/APPS/websocket") is None


def test_wss_is_verified_by_default() -> None:
    context = make_ssl_context("wss://pbx.example.com/PBX0/APPS/websocket")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_wss_verification_can_be_switched_off_for_labs() -> None:
    context = make_ssl_context("wss://pbx.example.com/PBX0/APPS/websocket", verify=False)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_a_missing_ca_file_fails_loudly() -> None:
    with pytest.raises(FileNotFoundError):
        make_ssl_context("wss://pbx.example.com/PBX0/APPS/websocket", ca_file="/nonexistent/ca.pem")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"url": "https://pbx/PBX0/APPS/websocket"}, "must start with ws:// or wss://", id="http-url"),
        pytest.param({"app": ""}, "must not be empty", id="no-app"),
        pytest.param({"keepalive_interval": 60}, "below 60 s", id="keepalive-too-slow"),
        pytest.param({"window": 0}, "at least 1", id="no-window"),
        pytest.param({"request_timeout": 0}, "positive", id="no-timeout"),
        pytest.param({"backoff_min": 40}, "not above backoff_max", id="backoff-upside-down"),
    ],
)
def test_a_config_that_cannot_work_is_refused(changes: dict, message: str) -> None:
    values = {"url": "ws://127.0.0.1/PBX0/APPS/websocket", "app": "presencebridge", "password": "x", **changes}
    with pytest.raises(ValueError, match=message):
        LinkConfig(**values)


def test_the_password_stays_out_of_the_repr() -> None:
    config = LinkConfig(url="ws://127.0.0.1/PBX0/APPS/websocket", app="presencebridge", password="hunter2")
    assert "hunter2" not in repr(config) and "hunter2" not in str(config)
