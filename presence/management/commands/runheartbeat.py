"""`manage.py runheartbeat`: the embedded default — everything in one process.

daphne serves HTTP and websockets; the PBX link and its Channels worker run on daphne's asyncio
loop (scheduled from `reactor.callLater`: daphne's blocking `run()` owns the loop). With no PBX_URL
the PBX simulator runs here too, seeded with demo users, so a new install shows presence changing
within a minute.

With TLS_CERT_FILE and TLS_KEY_FILE it serves HTTPS itself (Twisted's TLS endpoint), so a small
install needs no proxy for the Windows clients that must reach it over HTTPS.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

log = logging.getLogger("presence.embedded")


def _escape(value: str) -> str:
    """A value inside a Twisted endpoint description, where `:`, `=` and `\\` are syntax."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def endpoint(host: str, port: int, cert_file: str = "", key_file: str = "") -> str:
    """daphne's endpoint: plain TCP, or TLS when a certificate and key are given.

    Twisted's `certKey` takes the first certificate of the file only; the intermediates of a
    fullchain.pem must also go to `extraCertChain`, or clients that know only the root refuse.
    """
    if not cert_file:
        return f"tcp:port={port}:interface={_escape(host)}"
    for name, path in (("TLS_CERT_FILE", cert_file), ("TLS_KEY_FILE", key_file)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"{name}={path!r} cannot be read: {exc.strerror}.") from exc
    description = (
        f"ssl:port={port}:interface={_escape(host)}:privateKey={_escape(key_file)}:certKey={_escape(cert_file)}"
    )
    if Path(cert_file).read_bytes().count(b"-----BEGIN CERTIFICATE-----") > 1:
        description += f":extraCertChain={_escape(cert_file)}"
    return description


def check_endpoint(description: str) -> None:
    """Load the certificate and key now, so that a wrong file stops start-up with a sentence."""
    if not description.startswith("ssl:"):
        return
    from twisted.internet import endpoints, reactor

    try:
        endpoints.serverFromString(reactor, description)
    except Exception as exc:
        raise CommandError(
            f"TLS_CERT_FILE / TLS_KEY_FILE cannot be used ({exc.__class__.__name__}: {exc}). They must be PEM files: "
            "the certificate followed by its intermediates, and its private key without a passphrase."
        ) from exc


class Command(BaseCommand):
    help = "Run Presence Heartbeat in one process: web server, PBX link worker, and (without PBX_URL) the simulator."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, **options) -> None:
        from channels.routing import ProtocolTypeRouter, get_default_application
        from daphne.server import Server  # installs Twisted's asyncio reactor: import it first
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from twisted.internet import defer, reactor

        stop = asyncio.Event()
        background: list[asyncio.Task] = []

        def start_background() -> None:
            task = asyncio.ensure_future(self.background(stop))
            task.add_done_callback(_log_failure)
            background.append(task)

        def before_shutdown():
            stop.set()
            if background and not background[0].done():
                return defer.Deferred.fromFuture(asyncio.ensure_future(asyncio.wait(background, timeout=15)))
            return None

        host, port = options["host"], options["port"]
        listen = endpoint(host, port, settings.TLS_CERT_FILE, settings.TLS_KEY_FILE)
        check_endpoint(listen)
        reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)  # type: ignore[arg-type]  # zope stubs
        # Static files (the admin's CSS) served here too: no nginx in front of the embedded default.
        routes = dict(get_default_application().application_mapping)
        routes["http"] = ASGIStaticFilesHandler(routes["http"])
        server = Server(
            application=ProtocolTypeRouter(routes),
            endpoints=[listen],
            signal_handlers=True,
            ready_callable=lambda: reactor.callLater(0, start_background),  # type: ignore[arg-type]  # zope stubs
            proxy_forwarded_address_header="X-Forwarded-For" if settings.TRUST_PROXY_HEADERS else None,
            proxy_forwarded_port_header="X-Forwarded-Port" if settings.TRUST_PROXY_HEADERS else None,
            proxy_forwarded_proto_header="X-Forwarded-Proto" if settings.TRUST_PROXY_HEADERS else None,
            verbosity=1,
        )
        scheme = "https" if settings.TLS_CERT_FILE else "http"
        # The hints are for the person who started it, in LANGUAGE_CODE's language; log lines stay English.
        self.stdout.write(
            gettext("Presence Heartbeat on %(url)s  (admin: %(admin)s)")
            % {"url": f"{scheme}://{host}:{port}/", "admin": f"{settings.PUBLIC_URL}/admin/"}
        )
        server.run()

    async def background(self, stop: asyncio.Event) -> None:
        from presence.demo import DEMO_USERS, demo_apps, demo_users, myapps_preview_text
        from presence.link.runner import hold_link
        from presence.link.worker import link_config
        from presence.myapps import preview

        simulator = None
        if settings.PBX_URL:
            config = link_config()
        else:
            from presence.pbx.simulator import PbxSimulator

            password = secrets.token_urlsafe(16)
            simulator = PbxSimulator(
                app=settings.PBX_APP,
                password=password,
                users=demo_users(),
                apps=demo_apps(),
                port=settings.PBX_SIMULATOR_PORT,
            )
            await simulator.start()
            self.stdout.write(
                gettext("No PBX_URL: using the built-in PBX simulator at %(url)s (demo users).")
                % {"url": simulator.url}
            )
            preview.use_simulator(simulator, asyncio.get_running_loop())
            self.stdout.write(myapps_preview_text())
            config = link_config(url=simulator.url, password=password)
            logins = [login for login, _, _ in DEMO_USERS]
            asyncio.ensure_future(self.seed_demo(logins)).add_done_callback(_log_failure)
        try:
            await hold_link(config, stop)
        finally:
            if simulator is not None:
                preview.forget_simulator()
                await simulator.stop()

    async def seed_demo(self, logins: list[str]) -> None:
        """Once the simulator's users are replicated: licence the demo users, offer a demo API key."""
        from asgiref.sync import sync_to_async

        from presence.demo import seed_demo

        for _ in range(100):
            message = await sync_to_async(seed_demo, thread_sensitive=False)(logins)
            if message is not None:
                if message:
                    self.stdout.write(message)
                return
            await asyncio.sleep(0.2)


def _log_failure(task: asyncio.Future) -> None:
    # Twisted swallows exceptions in callbacks at daphne's default verbosity: log them ourselves.
    if not task.cancelled() and task.exception() is not None:
        log.error("embedded background task failed", exc_info=task.exception())
