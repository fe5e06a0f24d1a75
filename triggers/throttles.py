"""Rate limits for the trigger API: generous per key, tight per (key, user).

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry, which costs O(rate)
per request — hopeless at 60,000/min. These are fixed-window counters: one `incr` per request.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

log = logging.getLogger("triggers.throttles")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


def count_hit(key: str, ttl: int) -> int:
    """Add one to a counter that expires; returns the new count. One round trip on Redis."""
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl, nx=True)
        return int(pipe.execute()[0])
    cache.add(key, 0, ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, ttl)
        return 1


class FixedWindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self.limit, self.period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        self.window_end = 0.0

    def ident(self, request) -> str | None:
        """Whom this throttle counts; None = not counted. Each subclass says."""
        return None

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        now = time.time()
        window = int(now // self.period)
        self.window_end = (window + 1) * self.period
        key = f"throttle:{self.scope}:{ident}:{window}"
        try:
            count = count_hit(key, self.period + 1)
        except Exception as exc:
            # The shared cache (Redis) is down: fail open. Losing the rate limit for a while is far
            # better than refusing a company's triggers, which are accepted and queued as usual.
            log.warning("rate limit not checked: cache unavailable (%s)", exc)
            return True
        return count <= self.limit

    def wait(self) -> float:
        return max(0.0, self.window_end - time.time())


class PerKeyThrottle(FixedWindowThrottle):
    """A whole company's logon storm through one key must pass (TRIGGER_RATE_PER_KEY)."""

    scope = "trigger-key"

    def ident(self, request) -> str | None:
        key = getattr(request, "auth", None)
        return str(key.pk) if key is not None else None


class PerUserThrottle(FixedWindowThrottle):
    """A script posting for one user in a loop is stopped (TRIGGER_RATE_PER_USER)."""

    scope = "trigger-user"

    def ident(self, request) -> str | None:
        key = getattr(request, "auth", None)
        if key is None or request.method != "POST":
            return None
        user = request.data.get("user") if hasattr(request.data, "get") else None
        if not isinstance(user, str) or not user.strip():
            return None
        # Hashed: the value is whatever the client sent, and cache keys must stay plain and short.
        digest = hashlib.blake2b(user.strip().lower().encode(), digest_size=12).hexdigest()
        return f"{key.pk}:{digest}"
