"""API-key authentication for the trigger API (DRF)."""

from __future__ import annotations

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import authentication, exceptions

from triggers import keys
from triggers.models import ApiKey

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
        if not keys.looks_like_key(clear):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        prefix = keys.prefix_of(clear)
        now = timezone.now()
        for row in rows_for_prefix(prefix):
            reason = row.refusal(clear, now)
            if reason is None:
                row.record_use(now)
                return (None, row)
            if reason != "Unknown API key.":
                raise exceptions.AuthenticationFailed(reason)
        raise exceptions.AuthenticationFailed("Unknown API key.")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
