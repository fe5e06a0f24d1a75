"""daphne: a body over the limit is refused by the HTTP parser, while the body is still arriving.

daphne (through Twisted) reads a request's whole body — into memory, or a temporary file above
100 kB — and only then starts the application, handing it the body as one burst of messages held in
memory: no ASGI application can refuse a 300 MB body before daphne has buffered it. So the limit is
applied here, in the request object daphne's HTTP parser fills: from the Content-Length as soon as
the headers are in, or at the first chunk of a chunked body past the limit; the 413 goes out at once
and the connection is closed, so the rest is never read.

This subclasses daphne's `WebRequest` and relies on two Twisted `Request` hooks (`gotLength`,
`handleContentChunk`) and on `HTTPChannel._path` (the request line's target, known before the body);
`tests/e2e/test_body_limits.py` fails if an upgrade of daphne or Twisted moves any of them.
"""

from __future__ import annotations

from io import BytesIO
from urllib.parse import unquote, urlsplit

from daphne import http_protocol

from heartbeat_site.helpers.bodylimit import STATUS, limit_for, too_large_body


def _path_of(target: bytes) -> str:
    """The path of a request target (`/api/v1/triggers?x`, or the absolute form), as daphne unquotes it."""
    try:
        return unquote(urlsplit(target.decode("ascii")).path)
    except (UnicodeDecodeError, ValueError):
        return ""


class BodyLimitedRequest(http_protocol.WebRequest):  # defined before install() swaps it in
    body_limit = 0
    body_seen = 0
    body_refused = False

    def gotLength(self, length):
        self.body_limit = limit_for(_path_of(getattr(self.channel, "_path", b"")))
        if length is not None and length > self.body_limit:
            self.content = BytesIO()  # Twisted expects one; nothing is ever written to it
            self.refuse_body()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.body_refused:
            return
        self.body_seen += len(data)
        if self.body_seen > self.body_limit:
            self.refuse_body()
            return
        super().handleContentChunk(data)

    def process(self):
        if self.body_refused:  # the whole (over-long) body arrived in the same read: already answered
            return None
        return super().process()

    def refuse_body(self) -> None:
        self.body_refused = True
        body = too_large_body(self.body_limit)
        head = (
            f"HTTP/1.1 {STATUS}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.channel.transport.write(head.encode("ascii") + body)
        self.channel.loseConnection()


def install() -> None:
    """daphne's HTTP factory builds `http_protocol.WebRequest` objects: make those ours (idempotent)."""
    http_protocol.WebRequest = BodyLimitedRequest
