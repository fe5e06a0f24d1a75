"""The language of a websocket: the one its page was shown in.

A page's language comes from Django's LocaleMiddleware (the language switch's cookie, else the browser's
Accept-Language, else LANGUAGE_CODE). A websocket passes no middleware, but its handshake carries the
same cookie and header; Django's own `get_language_from_request` decides from them the same way.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import translation


def scope_language(scope: dict) -> str:
    """The language LocaleMiddleware would choose for the page that opened this socket."""
    request = HttpRequest()
    request.COOKIES = dict(scope.get("cookies") or {})
    for name, value in scope.get("headers") or []:
        if name.lower() == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    return translation.get_language_from_request(request)
