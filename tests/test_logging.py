"""Log hygiene: what a client sends cannot forge or break a log line, and secrets never reach one."""

from __future__ import annotations

import io
import json
import logging

import pytest

from heartbeat_site.helpers.logging import RedactSecretsFilter


@pytest.fixture
def log_text():
    """Everything logged during the test (at DEBUG, where each accepted trigger gets a line), through the
    filter the console handler of settings.LOGGING uses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream.getvalue
    root.removeHandler(handler)
    root.setLevel(level)


# The API refuses C0 controls and DEL in `device` (400); these pass it and must still not reach a log raw.
HOSTILE = ["\x85", "\u2028", "\u2029", "\x9b", "\u202e", "\xa0"]


@pytest.mark.django_db
@pytest.mark.parametrize("control", HOSTILE, ids=[repr(c) for c in HOSTILE])
def test_it_escapes_control_characters_a_client_sends_in_device(api_client, auth, alice, log_text, control):
    device = f"PC-1{control}INFO triggers.accept trigger accepted id=999 user=admin"
    response = api_client.post(
        "/api/v1/triggers",
        data=json.dumps({"user": "alice", "event": "lock", "device": device}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 202
    text = log_text()
    line = next(line for line in text.splitlines() if "trigger accepted" in line)
    assert control not in text  # not raw, anywhere
    assert control.encode("unicode_escape").decode() in line  # but shown, escaped, on the one line
    assert len([row for row in text.splitlines() if "trigger accepted" in row]) == 1  # no forged second line


def test_it_escapes_a_lone_surrogate_instead_of_failing_to_write_the_line():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "device=%s", ("PC\ud800",), None)
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "device=PC\\ud800"
    record.getMessage().encode("utf-8")  # a UTF-8 stream can write it


def test_plain_lines_pass_unchanged_and_keys_are_still_redacted():
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "trigger accepted id=%s device=%s", (1, "PC-17 ü"), None)
    RedactSecretsFilter().filter(plain)
    assert plain.getMessage() == "trigger accepted id=1 device=PC-17 ü"
    key = "phk_abcdefgh_" + "s" * 20
    secret = logging.LogRecord("x", logging.INFO, __file__, 1, "Authorization: Bearer %s\n", (key,), None)
    RedactSecretsFilter().filter(secret)
    assert "sss" not in secret.getMessage() and secret.getMessage().endswith("\\n")
