"""Django's ASGI handler with the request cycle run in one call on a fixed pool of threads.

Under Django's own ASGIHandler every request starts a new thread (`ThreadSensitiveContext`), opens
a new database connection on it, and hops between the event loop and that thread for the request
signal, for each of the (sync) middleware and for the view — measured on daphne: a trivial view
cost 3.6 ms of CPU per request, most of it thread start-up, hand-offs and joins. Here the request
signal, middleware and view run together on a pooled thread that keeps its database connection, as
under a WSGI server; daphne still reads the request and writes the response on its event loop.

What is given up: Django's "client disconnected" cancellation, which cannot stop a sync view anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix


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
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self.in_pool(self.respond)(scope, body_file)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away meanwhile
                await self.send_response(response, send)
            if response.streaming:
                await self.in_pool(response.close)()  # sends request_finished: connections are tidied here
        finally:
            body_file.close()

    def respond(self, scope, body_file):
        """The synchronous request cycle, as a WSGI server would run it."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__
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
