"""`manage.py runheartbeat`: the embedded default — everything in one process.

daphne serves HTTP and websockets; the PBX link and its Channels worker run on daphne's asyncio
loop (scheduled from `reactor.callLater`: daphne's blocking `run()` owns the loop). With no PBX_URL
the PBX simulator runs here too, seeded with demo users, so a new install shows presence changing
within a minute.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger("presence.embedded")

DEMO_USERS = [
    ("admin", "Administrator", "100"),
    ("alice", "Alice Smith", "201"),
    ("bob", "Bob Jones", "202"),
    ("carol", "Carol White", "203"),
    ("dave", "Dave Brown", "204"),
    ("erin", "Erin Green", "205"),
]


# Who has which myApps app on the demo PBX: erin lacks the user app (the preview shows her refusal),
# only the administrator has the admin app.
DEMO_WITHOUT_USER_APP = {"erin"}
DEMO_ADMIN_APP_USERS = {"admin"}


def demo_users():
    from presence.pbx.simulator import SimUser

    return [
        SimUser(guid=f"{n + 1:032x}", h323=h323, cn=cn, dn=cn, e164=e164, emails=[f"{h323}@example.com"])
        for n, (h323, cn, e164) in enumerate(DEMO_USERS)
    ]


def demo_apps():
    """The two App objects on the demo PBX, with the passwords this service has for them (`make run` puts
    them in .env): the simulator signs myApps logins with them, as a PBX would."""
    from presence.myapps.config import ADMIN, USER, app_object
    from presence.pbx.simulator import SimApp

    user_app, admin_app = app_object(USER), app_object(ADMIN)
    apps = []
    if user_app.enabled:
        users = {h323 for h323, _, _ in DEMO_USERS} - DEMO_WITHOUT_USER_APP
        apps.append(SimApp(user_app.name, user_app.password, "Presence", user_app.url, users))
    if admin_app.enabled:
        apps.append(SimApp(admin_app.name, admin_app.password, "Presence admin", admin_app.url, DEMO_ADMIN_APP_USERS))
    return apps


class Command(BaseCommand):
    help = "Run Presence Heartbeat in one process: web server, PBX link worker, and (without PBX_URL) the simulator."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, **options) -> None:
        from daphne.server import Server  # installs Twisted's asyncio reactor: import it first
        from twisted.internet import defer, reactor

        from heartbeat_site.embedded import embedded_application

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

        reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
        host, port = options["host"], options["port"]
        interface = host.replace(":", r"\:")
        server = Server(
            application=embedded_application(),
            endpoints=[f"tcp:port={port}:interface={interface}"],
            signal_handlers=True,
            ready_callable=lambda: reactor.callLater(0, start_background),
            proxy_forwarded_address_header="X-Forwarded-For" if settings.TRUST_PROXY_HEADERS else None,
            proxy_forwarded_port_header="X-Forwarded-Port" if settings.TRUST_PROXY_HEADERS else None,
            proxy_forwarded_proto_header="X-Forwarded-Proto" if settings.TRUST_PROXY_HEADERS else None,
            verbosity=1,
        )
        self.stdout.write(f"Presence Heartbeat on http://{host}:{port}/  (admin: {settings.PUBLIC_URL}/admin/)")
        server.run()

    async def background(self, stop: asyncio.Event) -> None:
        from presence.link.runner import hold_link
        from presence.link.service import link_config
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
                port=settings.PBX_SIMULATOR_PORT,
                apps=demo_apps(),
            )
            await simulator.start()
            self.stdout.write(f"No PBX_URL: using the built-in PBX simulator at {simulator.url} (demo users).")
            preview.use_simulator(simulator, asyncio.get_running_loop())
            self.stdout.write(self.myapps_preview_text())
            config = link_config(url=simulator.url, password=password)
            asyncio.ensure_future(self.seed_demo()).add_done_callback(_log_failure)
        try:
            await hold_link(config, stop)
        finally:
            if simulator is not None:
                preview.forget_simulator()
                await simulator.stop()

    def myapps_preview_text(self) -> str:
        """Where to see the myApps apps without a PBX (or why they are off)."""
        from presence.myapps.config import ADMIN, USER, app_object

        base = f"{settings.PUBLIC_URL}/myapps/preview"
        lines = []
        if app_object(USER).enabled:
            lines.append(f"myApps user app preview:  {base}?user=alice   (erin has no user app: {base}?user=erin)")
        if app_object(ADMIN).enabled:
            lines.append(f"myApps admin app preview: {base}?app=admin&user=admin")
        off = [name for name, app in (("user", app_object(USER)), ("admin", app_object(ADMIN))) if not app.enabled]
        if off:
            names = " and ".join(f"MYAPPS_{name.upper()}_PASSWORD" for name in off)
            lines.append(f"myApps {' and '.join(off)} app off: set {names} (make run writes them into .env).")
        return "\n".join(lines)

    async def seed_demo(self) -> None:
        """Once the simulator's users are replicated: licence the demo users, offer a demo API key."""
        from asgiref.sync import sync_to_async

        from heartbeat_site.embedded import seed_demo

        for _ in range(100):
            message = await sync_to_async(seed_demo, thread_sensitive=False)([u[0] for u in DEMO_USERS])
            if message is not None:
                if message:
                    self.stdout.write(message)
                return
            await asyncio.sleep(0.2)


def _log_failure(task: asyncio.Future) -> None:
    # Twisted swallows exceptions in callbacks at daphne's default verbosity: log them ourselves.
    if not task.cancelled() and task.exception() is not None:
        log.error("embedded background task failed", exc_info=task.exception())
