"""API-key authentication for the trigger API (DRF)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from triggers import keys
from triggers.models import ApiKey


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
        for row in ApiKey.objects.for_prefix(prefix)[:2]:
            reason = row.refusal(clear, now)
            if reason is None:
                row.record_use(now)
                return (None, row)
            if reason != "Unknown API key.":
                raise exceptions.AuthenticationFailed(reason)
        raise exceptions.AuthenticationFailed("Unknown API key.")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
