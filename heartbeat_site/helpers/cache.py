"""Django's Redis cache with one client per connection pool.

Django's RedisCache builds a new `redis.Redis` for every cache call, and redis-py builds its
response callbacks each time: measured at 16 % of the trigger accept path's CPU. The pool (and so
the connections) were already shared; this shares the client object too.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class PooledRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write: bool = False):
        index = self._get_connection_pool_index(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(index)
        if client is None:
            client = clients[index] = super().get_client(key, write=write)
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
