"""Rate limits: the trigger API per key and per (key, PBX user), and the user page's buttons per person.

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry, which costs O(rate)
per request — hopeless at 60,000/min. These are fixed-window counters (one Redis round trip each).

The per-key limit is a DRF throttle: it needs no body, so it runs before anything is parsed or
queried. The per-user limit needs the PBX user the body names — counting the spelling let
`CORP\\alice` and `alice@corp.example` through after alice's 429 — so the accept path counts it once
identity matching has found them. A 429 writes no trigger row (a loop must not fill the log); it
is counted in `heartbeat_rate_limited_total` instead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from heartbeat_site.helpers import metrics
from heartbeat_site.helpers.cache import count_hits

log = logging.getLogger("triggers.throttles")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_SCOPE = "trigger-key"  # a whole company's logon storm through one key must pass
USER_SCOPE = "trigger-user"  # a script posting for one user in a loop is stopped
BUTTON_SCOPE = "button"  # a person hammering the user page's buttons is stopped
LIMIT_NAMES = {KEY_SCOPE: "key", USER_SCOPE: "user", BUTTON_SCOPE: "button"}  # the metric's label


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


@dataclass(frozen=True)
class Window:
    scope: str
    limit: int
    period: int
    ident: str

    def key(self, now: float) -> str:
        return f"throttle:{self.scope}:{self.ident}:{int(now // self.period)}"

    def ends(self, now: float) -> float:
        return (int(now // self.period) + 1) * self.period


def over_limit(scope: str, rate: str, ident: str) -> float | None:
    """Count one hit on `ident`'s window; the seconds until it reopens when over `rate`, else None.

    Fails open: with the shared cache (Redis) down, losing the rate limit for a while is far better
    than refusing a company's triggers, which are accepted and queued as usual.
    """
    window = Window(scope, *parse_rate(rate), ident)
    now = time.time()
    try:
        (count,) = count_hits([(window.key(now), window.period + 1)])
    except Exception as exc:
        log.warning("rate limit not checked: cache unavailable (%s)", exc)
        return None
    if count <= window.limit:
        return None
    metrics.RATE_LIMITED.labels(LIMIT_NAMES[scope]).inc()
    return max(0.0, window.ends(now) - now)


def enforce_rate(api_key_pk: int, who: str) -> None:
    """TRIGGER_RATE_PER_USER per (key, PBX user) — whatever spelling named the user — or per (key, computer)
    for a computer-level event sent without a user (`who`): 429 when over."""
    rate = str(api_settings.DEFAULT_THROTTLE_RATES[USER_SCOPE])
    wait = over_limit(USER_SCOPE, rate, f"{api_key_pk}-{who}")
    if wait is not None:
        raise exceptions.Throttled(wait, "Too many triggers for this user: slow down (see Retry-After).")


class TriggerRateThrottle(BaseThrottle):
    """TRIGGER_RATE_PER_KEY per API key, before the body is read."""

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        if getattr(request, "auth", None) is None:
            return True
        rate = str(api_settings.DEFAULT_THROTTLE_RATES[KEY_SCOPE])
        self.wait_seconds = over_limit(KEY_SCOPE, rate, str(request.auth.pk))
        return self.wait_seconds is None

    def wait(self) -> float:
        return self.wait_seconds or 0.0
