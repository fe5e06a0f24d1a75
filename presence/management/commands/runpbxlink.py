"""`manage.py runpbxlink`: the PBX link worker (a Channels worker on the `pbx-link` channel).

Any number may run; one holds the PBX link (a lease in the database), the others stand by and take
over within seconds when it dies. SIGTERM finishes what is in flight, gives the lease back, exits.
"""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from presence.link.runner import hold_link
from presence.link.worker import link_config


class Command(BaseCommand):
    help = "Hold the PBX link: apply queued triggers, replicate the directory, keep presence subscribed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--metrics-port", type=int, default=0, help="Serve this process's /metrics on this port.")

    def handle(self, *args, **options) -> None:
        if not settings.PBX_URL:
            raise CommandError("PBX_URL is not set: point it at wss://<pbx>/PBX0/APPS/websocket (see README).")
        if options["metrics_port"]:
            from prometheus_client import start_http_server

            start_http_server(options["metrics_port"], addr="127.0.0.1")
        asyncio.run(self.main())

    async def main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await hold_link(link_config(), stop)
