"""How large a request body may be, and the 413 that says so — for every HTTP entry point.

The trigger API takes TRIGGER_MAX_BODY (4 KiB); everything else Django's DATA_UPLOAD_MAX_MEMORY_SIZE
(2.5 MiB: the admin's forms). The limit is applied while the body is read, before any view or
authentication runs: a 300 MB POST without a key used to be answered 401 only after all of it had
been buffered. Where it is applied:

- daphne (the scaled web tier and the embedded default): `heartbeat_site.helpers.daphne_body_limit`, in the
  HTTP parser itself, since daphne reads the whole body before the application sees the request;
- the pooled ASGI handler (`heartbeat_site.helpers.asgi_http`), for any ASGI server;
- gunicorn (the trigger API in the scaled set-up): `BodyLimitMiddleware` on the WSGI application,
  from the Content-Length (Django reads no body without one).
"""

from __future__ import annotations

import json

from django.conf import settings

TRIGGER_API = "/api/v1/triggers"
STATUS = "413 Request Entity Too Large"
DEFAULT_LIMIT = 2_621_440  # Django's own default for DATA_UPLOAD_MAX_MEMORY_SIZE


def limit_for(path: str) -> int:
    """The largest body (bytes) a request to `path` may carry."""
    if path == TRIGGER_API or path.startswith(TRIGGER_API + "/"):
        return settings.TRIGGER_MAX_BODY
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DEFAULT_LIMIT


def too_large_detail(limit: int) -> str:
    """The 413's sentence, the same from every layer (the trigger view's own check included)."""
    return f"The request body is over {limit} bytes."


def too_large_body(limit: int) -> bytes:
    """The API's error shape, which the admin's pages can show as well as a script can read it."""
    return json.dumps({"error": "payload_too_large", "detail": too_large_detail(limit)}).encode()


def declared_length(value: str | bytes | None) -> int | None:
    """A Content-Length header's value, or None when absent or not a number."""
    try:
        return int(value) if value not in (None, "", b"") else None
    except ValueError:
        return None


class BodyLimitMiddleware:
    """WSGI: a declared body over the limit is answered 413 without reading any of it."""

    def __init__(self, application) -> None:
        self.application = application

    def __call__(self, environ, start_response):
        limit = limit_for(environ.get("PATH_INFO", ""))
        length = declared_length(environ.get("CONTENT_LENGTH"))
        if length is not None and length > limit:
            body = too_large_body(limit)
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ]
            start_response(STATUS, headers)
            return [body]
        return self.application(environ, start_response)
