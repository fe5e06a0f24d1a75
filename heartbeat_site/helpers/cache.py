"""The Redis cache: one client per connection pool, and counters in one round trip.

Overrides of Django's internals (tests/test_framework_overrides.py breaks when what they rely on
changes; tests/bench/README.md has the measurements):

- `PooledRedisCacheClient.get_client` replaces Django's, which builds a new `redis.Redis` (and redis-py
  its response callbacks) for every cache call; it buys 9 % of the accept path's CPU.
- `count_hits` reaches the redis-py client behind `RedisCache._cache` to send INCR and EXPIRE NX in
  one pipeline: the rate limits' counters in one round trip instead of Django's add + incr.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class PooledRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write: bool = False):
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]  # Django's, not in the stubs
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(index)
        if client is None:
            client = clients[index] = super().get_client(key, write=write)
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient


def count_hits(counters: list[tuple[str, int]]) -> list[int]:
    """Add one to each (key, ttl) counter, which expires after ttl seconds; returns the new counts.

    One round trip on Redis however many counters (a pipeline of INCR + EXPIRE NX for each).
    `caches["default"]`, not `cache`: the latter is a proxy object, never an instance of the backend
    class — testing it made every request take the slow path, six Redis commands in as many round trips.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
        for key, ttl in counters:
            full_key = backend.make_and_validate_key(key)
            pipe.incr(full_key)
            pipe.expire(full_key, ttl, nx=True)
        return [int(n) for n in pipe.execute()[::2]]
    counts = []
    for key, ttl in counters:
        backend.add(key, 0, ttl)
        try:
            counts.append(backend.incr(key))
        except ValueError:  # expired between add and incr
            backend.add(key, 1, ttl)
            counts.append(1)
    return counts
