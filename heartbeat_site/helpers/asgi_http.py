"""Django's ASGI handler with the request cycle run in one call on a fixed pool of threads.

Under Django's own ASGIHandler every request starts a new thread (`ThreadSensitiveContext`), opens
a new database connection on it, and hops between the event loop and that thread for the request
signal, for each of the (sync) middleware and for the view — measured on daphne: a trivial view
cost 3.6 ms of CPU per request, most of it thread start-up, hand-offs and joins. Here the request
signal, middleware and view run together on a pooled thread that keeps its database connection, as
under a WSGI server; daphne still reads the request and writes the response on its event loop.

What is given up: Django's "client disconnected" cancellation, which cannot stop a sync view anyway.
What is added: a body over the limit (heartbeat_site/helpers/bodylimit.py) is refused while it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from heartbeat_site.helpers.bodylimit import declared_length, limit_for, too_large_body


class BodyTooLarge(Exception):
    """The request body is over the limit for its path."""


class PooledASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)  # one sync chain: no hop per middleware
        # Each thread keeps its own database connection (CONN_MAX_AGE): settings.WEB_THREADS of them.
        self.executor = ThreadPoolExecutor(settings.WEB_THREADS, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def in_pool(self, fn):
        """`fn` on a pooled thread, with the caller's context variables (asgiref's Local needs them)."""
        return sync_to_async(fn, thread_sensitive=False, executor=self.executor)

    async def handle(self, scope, receive, send) -> None:
        # A body over the limit is refused while it is read (bodylimit.py): from its Content-Length
        # before any of it, or at the first chunk past the limit; the rest is never waited for.
        limit = limit_for(scope.get("path", ""))
        declared = declared_length(dict(scope.get("headers", [])).get(b"content-length"))
        try:
            if declared is not None and declared > limit:
                raise BodyTooLarge
            body_file = await self.read_limited_body(receive, limit)
        except RequestAborted:
            return
        except BodyTooLarge:
            await self.refuse_body(send, limit)
            return
        try:
            response = await self.in_pool(self.respond)(scope, body_file)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away meanwhile
                await self.send_response(response, send)
            if response.streaming:
                await self.in_pool(response.close)()  # sends request_finished: connections are tidied here
        finally:
            body_file.close()

    @staticmethod
    async def read_limited_body(receive, limit: int):
        """Django's read_body, stopping with BodyTooLarge as soon as more than `limit` bytes arrived."""
        # Returned open, like Django's read_body: handle() closes it after the response.
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body_file.close()
                raise BodyTooLarge
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    @staticmethod
    async def refuse_body(send, limit: int) -> None:
        body = too_large_body(limit)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def respond(self, scope, body_file):
        """The synchronous request cycle, as a WSGI server would run it."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]  # as Django's own handlers do
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            # The body is bytes by now: finish here (request_finished tidies this thread's database
            # connections) rather than in a second hop to the pool after sending.
            response.close()
        return response


def get_pooled_asgi_application() -> PooledASGIHandler:
    import django

    django.setup(set_prefix=False)
    return PooledASGIHandler()
