"""API-key authentication for the trigger API (DRF)."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import threading
import time

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import authentication, exceptions

from triggers.models import ApiKey, looks_like_key, prefix_of

# Key rows by prefix, kept for a few seconds per process: every trigger authenticates, and keys change
# rarely. A change saved in this process applies at once (signal below); other processes see it
# within KEY_CACHE_SECONDS — revoking a key takes at most that long everywhere.
KEY_CACHE_SECONDS = 5.0
_key_cache: dict[str, tuple[float, list[ApiKey]]] = {}


def rows_for_prefix(prefix: str) -> list[ApiKey]:
    hit = _key_cache.get(prefix)
    now = time.monotonic()
    if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
        return hit[1]
    rows = list(ApiKey.objects.for_prefix(prefix)[:2])
    if len(_key_cache) > 1000:  # unknown prefixes from a scanner must not grow it without bound
        _key_cache.clear()
    _key_cache[prefix] = (now, rows)
    return rows


@receiver([post_save, post_delete], sender=ApiKey)
def forget_cached_keys(**kwargs) -> None:
    _key_cache.clear()


# Last-used time and count: written at most once a second per key and process. Every trigger wrote
# the same hot row before, from every worker at once.
USE_FLUSH_SECONDS = 1.0
_uses_lock = threading.Lock()
_pending_uses: dict[int, int] = {}
_last_flush: dict[int, float] = {}
_last_used: dict[int, dt.datetime] = {}


def note_use(key: ApiKey, now: dt.datetime) -> None:
    with _uses_lock:
        _pending_uses[key.pk] = _pending_uses.get(key.pk, 0) + 1
        _last_used[key.pk] = now
        due = time.monotonic() - _last_flush.get(key.pk, 0.0) >= USE_FLUSH_SECONDS
    if due:
        flush_key_uses(key.pk)


def flush_key_uses(pk: int | None = None) -> None:
    """Write the pending uses (of one key, or all): also at exit, so counts survive a clean stop."""
    with _uses_lock:
        pks = [pk] if pk is not None else list(_pending_uses)
        batch = [(k, _pending_uses.pop(k, 0), _last_used.get(k)) for k in pks]
        for k in pks:
            _last_flush[k] = time.monotonic()
    for k, count, last in batch:
        if count:
            ApiKey.objects.filter(pk=k).update(last_used_at=last, use_count=F("use_count") + count)


def forget_process_state() -> None:
    """Drop cached keys and unwritten uses (tests: rows and ids do not survive a test)."""
    with _uses_lock:
        _pending_uses.clear()
        _last_flush.clear()
        _last_used.clear()
    _key_cache.clear()


def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):  # the database may be gone already
        flush_key_uses()


atexit.register(_flush_at_exit)


def key_from_request(request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <key>' or the X-Api-Key header.")
        return value.strip()
    return request.META.get("HTTP_X_API_KEY", "").strip()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>` or `X-Api-Key: <key>`; never a key in the query string."""

    def authenticate(self, request):
        for name in ("key", "api_key", "apikey", "token"):
            if name in request.query_params:
                raise exceptions.AuthenticationFailed(
                    "API keys are not accepted in the URL (they end up in logs): send the Authorization header."
                )
        clear = key_from_request(request)
        if not clear:
            raise exceptions.NotAuthenticated("An API key is required: send 'Authorization: Bearer <key>'.")
        if not looks_like_key(clear):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        prefix = prefix_of(clear)
        now = timezone.now()
        for row in rows_for_prefix(prefix):
            reason = row.refusal(clear, now)
            if reason is None:
                note_use(row, now)
                return (None, row)
            if reason != "Unknown API key.":
                raise exceptions.AuthenticationFailed(reason)
        raise exceptions.AuthenticationFailed("Unknown API key.")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
