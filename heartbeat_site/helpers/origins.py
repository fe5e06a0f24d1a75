"""The websocket Origin check: scheme, host and port, not only the host.

A browser sends the page's origin with every websocket handshake. Channels' AllowedHostsOriginValidator
compares only its host with ALLOWED_HOSTS, so a page on `http://127.0.0.1:9999` (another program on
the same machine) could open the user page's socket with the user's cookie. Accepted here:

- the origin of PUBLIC_URL (what browsers use behind a proxy that ends TLS);
- the origins in CSRF_TRUSTED_ORIGINS (`https://*.example.com` covers the subdomains);
- the socket's own origin — its scheme and Host header — when that host is in ALLOWED_HOSTS: the
  pages this service serves itself (the user page, the myApps apps) open sockets to where they came from.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # scheme, lower-case host, port


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, the port filled in from the scheme; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _header(scope: dict, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    if len(values) != 1:  # none, or several: ambiguous, refused
        return None
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None


def own_origin(scope: dict) -> Origin | None:
    """The origin the socket itself was opened at, if its Host is one this service answers to."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return origin_of(f"{scheme}://{host}")


def trusted(origin: Origin) -> bool:
    """PUBLIC_URL's origin, or one of CSRF_TRUSTED_ORIGINS (with their `*.` subdomain wildcard)."""
    if origin == origin_of(settings.PUBLIC_URL):
        return True
    scheme, host, port = origin
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in pattern
        allowed = origin_of(pattern.replace("://*.", "://", 1) if wildcard else pattern)
        if allowed is None or allowed[0] != scheme or allowed[2] != port:
            continue
        if host == allowed[1] or (wildcard and is_same_domain(host, "." + allowed[1])):
            return True
    return False


def origin_allowed(scope: dict) -> bool:
    header = _header(scope, b"origin")
    origin = origin_of(header) if header else None
    return origin is not None and (trusted(origin) or origin == own_origin(scope))


class OriginCheck:
    """ASGI middleware for websockets: the handshake of a foreign origin is refused (HTTP 403)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("OriginCheck guards websocket connections only.")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
