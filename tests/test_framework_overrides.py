"""Every override of a framework's internals (heartbeat_site/helpers) against the upstream code it relies on.

Each test states what the override assumes of Django, DRF, Channels or redis-py and fails loudly when an
upgrade changes it — then the override must be looked at again (and re-measured with
tests/bench/bench_overrides.py): it may break, or it may no longer be needed. The versions are pinned
in requirements.txt; what each override buys is in tests/bench/README.md. The daphne patch has its own
file (tests/test_daphne_body_limit.py).
"""

from __future__ import annotations

import inspect

import django
import rest_framework
from channels.worker import Worker
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.db.models import Model
from rest_framework import serializers

from heartbeat_site.helpers.asgi_http import PooledASGIHandler
from heartbeat_site.helpers.cache import PooledRedisCacheClient, count_hits
from heartbeat_site.helpers.channels import start_channel_worker
from heartbeat_site.helpers.drf import ShallowFieldsSerializer
from heartbeat_site.helpers.rowsql import Columns


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_upstream_versions_are_the_pinned_ones():
    with open("requirements.txt") as requirements:
        pins = dict(line.split("==", 1) for line in requirements.read().split() if "==" in line)
    assert pins["Django"] == django.get_version()
    assert pins["djangorestframework"] == rest_framework.VERSION


def test_djangos_asgi_handler_still_runs_each_request_on_a_thread_of_its_own():
    # The reason for PooledASGIHandler: a ThreadSensitiveContext (a new thread) per request.
    assert "ThreadSensitiveContext" in inspect.getsource(ASGIHandler.__call__)
    assert "get_response_async" in inspect.getsource(ASGIHandler.run_get_response)  # async middleware hops


def test_the_asgi_handler_methods_the_pooled_handler_calls_keep_their_shape():
    assert parameters(ASGIHandler.create_request) == ["self", "scope", "body_file"]
    assert parameters(ASGIHandler.send_response) == ["self", "response", "send"]
    assert parameters(ASGIHandler.get_response) == ["self", "request"]
    assert "is_async" in parameters(ASGIHandler.load_middleware)
    assert isinstance(ASGIHandler.chunk_size, int)
    assert issubclass(PooledASGIHandler, ASGIHandler)


def test_djangos_redis_client_still_builds_a_client_per_call():
    # The reason for PooledRedisCacheClient: a new redis.Redis (and its callbacks) for every call.
    source = inspect.getsource(RedisCacheClient.get_client)
    assert "self._client(connection_pool=" in source
    assert parameters(RedisCacheClient.get_client) == ["self", "key", "write"]
    assert parameters(RedisCacheClient._get_connection_pool_index) == ["self", "write"]
    assert issubclass(PooledRedisCacheClient, RedisCacheClient)


def test_the_redis_cache_keeps_its_client_where_count_hits_reaches_for_it():
    backend = RedisCache("redis://127.0.0.1:1/0", {})
    assert isinstance(backend._cache, RedisCacheClient)  # built lazily: nothing connects here
    assert callable(backend.make_and_validate_key)
    assert "_cache" in inspect.getsource(count_hits)


def test_drf_still_deep_copies_the_declared_fields_for_every_serializer():
    # The reason for ShallowFieldsSerializer.
    assert "copy.deepcopy(self._declared_fields)" in inspect.getsource(serializers.Serializer.get_fields)
    assert issubclass(ShallowFieldsSerializer, serializers.Serializer)


def test_the_shallow_fields_are_bound_to_each_serializer_and_validate_alike():
    class Probe(ShallowFieldsSerializer):
        name = serializers.CharField(max_length=3)

    first, second = Probe(data={"name": "abcd"}), Probe(data={"name": "ab"})
    assert first.fields["name"] is not second.fields["name"]
    assert not first.is_valid() and second.is_valid()
    assert first.fields["name"].parent is first


def test_the_channels_worker_coroutines_run_on_a_loop_we_own():
    assert inspect.iscoroutinefunction(Worker.handle)
    assert inspect.iscoroutinefunction(Worker.application_checker)
    assert {"application", "channels", "channel_layer"} <= set(parameters(Worker.__init__))
    assert "Worker(" in inspect.getsource(start_channel_worker)


def test_the_hooks_columns_builds_instances_with_are_there():
    assert parameters(Model.from_db) == ["db", "field_names", "values"]  # a classmethod, documented
    assert callable(connection.ops.get_db_converters)
    from triggers.models import Trigger

    col = Trigger._meta.get_field("decision").get_col("t")
    assert isinstance(col.get_db_converters(connection), list)
    assert Columns(Trigger, "t", ["id"]).attnames == ["id"]
