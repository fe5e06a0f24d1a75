"""PostgreSQL connections: kept between requests, health-checked, and replaced when the server ends one.

(A backend that polled the socket instead of Django's SELECT 1 was measured to buy nothing on the
accept path's CPU, tests/bench/bench_overrides.py, and was dropped: Django's own check is used.)"""

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


def test_connections_are_kept_and_health_checked():
    assert connection.settings_dict["ENGINE"] == "django.db.backends.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True and connection.settings_dict["CONN_MAX_AGE"] > 0


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
