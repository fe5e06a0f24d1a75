"""Request helpers shared by the trigger API and the user page."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str | None:
    """The caller's address; X-Forwarded-For only when a trusted proxy sets it (TRUST_PROXY_HEADERS)."""
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None
