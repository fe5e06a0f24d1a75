"""The PostgreSQL backend's health check: no query per request, and a dead connection is replaced."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from presence.link import wakeups
from tests.postgresql import only_on_postgresql, scalar

pytestmark = [
    pytest.mark.django_db(transaction=True),
    only_on_postgresql("PostgreSQL's backend"),
]


def backend_pid() -> int:
    return scalar("SELECT pg_backend_pid()")


def test_the_project_uses_the_backend_with_the_socket_health_check():
    assert connection.settings_dict["ENGINE"] == "heartbeat_site.helpers.pgbackend"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_healthy_idle_connection_is_usable_without_a_query(monkeypatch):
    backend_pid()
    opened: list[int] = []
    real_cursor = connection.connection.cursor
    monkeypatch.setattr(connection.connection, "cursor", lambda *a, **k: opened.append(1) or real_cursor(*a, **k))
    assert connection.is_usable()
    assert opened == []  # Django's own check runs SELECT 1 through a cursor here


def test_a_connection_the_server_ended_is_noticed_and_replaced_at_the_next_request():
    old_pid = backend_pid()
    with psycopg.connect(**wakeups.listen_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    deadline = time.monotonic() + 30  # a hang guard; the server ends it within milliseconds
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not connection.is_usable()
    connection.close_if_unusable_or_obsolete()  # what request_started does
    assert backend_pid() != old_pid  # the first query of the request ran on a new connection
