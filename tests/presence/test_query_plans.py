"""PostgreSQL plans: prepared statements keep their cached plans only where that is safe.

psycopg prepares statements used five times; PostgreSQL may then reuse one generic plan, made
without the values. The link worker plans each statement for its values, the directory's
statistics are refreshed after a full load, and the hot hand-written queries keep skewed constants
in their SQL.
"""

from __future__ import annotations

import asyncio

import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from presence.link import directory, runner
from presence.pbx import LinkConfig
from tests.postgresql import only_on_postgresql, scalar
from triggers import queue
from triggers.models import Trigger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    only_on_postgresql("plan caching is PostgreSQL's"),
]


def plan_cache_mode() -> str:
    return scalar("SHOW plan_cache_mode")


@pytest.fixture
def fresh_connection():
    """Closes this thread's connection so that the next query opens a new one; undoes the signal."""
    connection_created.disconnect(dispatch_uid="link-plan-each-query")  # an in-process link earlier
    connections["default"].close()
    yield
    connection_created.disconnect(dispatch_uid="link-plan-each-query")
    connections["default"].close()


def test_the_link_workers_connections_plan_each_query(fresh_connection):
    assert plan_cache_mode() == "auto"  # the API's connections keep cached plans
    connections["default"].close()
    stop = asyncio.Event()
    stop.set()  # hold_link sets up its connections, then returns at once
    asyncio.run(runner.hold_link(LinkConfig(url="ws://127.0.0.1:1/", app="x", password="x"), stop))
    assert plan_cache_mode() == "force_custom_plan"


def test_a_full_directory_load_refreshes_the_statistics(alice):
    directory.finish_initial_load({alice.guid})
    # counted by ANALYZE (-1: never analysed)
    assert scalar("SELECT reltuples FROM pg_class WHERE relname = %s", ["presence_pbxuser"]) == 1


def test_the_queue_depth_counts_queued_triggers_only(alice):
    for status in ("queued", "queued", "applied", "skipped"):
        Trigger.objects.create(user_value="alice", event="lock", at=alice.updated_at, status=status)
    assert queue.queue_depth() == 2
