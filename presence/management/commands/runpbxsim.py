"""Run the PBX simulator on its own, e.g. to point a link worker or a browser demo at it.

    manage.py runpbxsim --port 8765 --users 20
    manage.py runpbxsim --users-file users.json     # [{"guid": "...", "h323": "alice", "cn": "Alice", ...}]

It listens until SIGINT/SIGTERM. Point PBX_URL at the URL it prints, with PBX_APP and PBX_PASSWORD
set to the same values.
"""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from presence.pbx.simulator import PbxSimulator, SimUser, generate_users

DEMO_PASSWORD = "pwd"  # noqa: S105 - the simulator's demo secret when nothing is configured


def load_users(path: str) -> list[SimUser]:
    """Users from a JSON file: a list of objects (or {"users": [...]}) with SimUser's fields."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"--users-file {path!r} cannot be read: {exc.strerror}.") from exc
    except ValueError as exc:
        raise CommandError(f"--users-file {path!r} is not valid JSON: {exc}.") from exc
    if isinstance(data, dict):
        data = data.get("users")
    if not isinstance(data, list):
        raise CommandError(f'--users-file {path!r} must hold a list of users (or {{"users": [...]}}).')
    known = {f.name for f in fields(SimUser)}
    users = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not item.get("guid") or not item.get("h323"):
            raise CommandError(f"user #{number} in {path!r} needs at least a guid and an h323 (login name).")
        unknown = set(item) - known
        if unknown:
            raise CommandError(
                f"user #{number} in {path!r} has unknown field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}."
            )
        users.append(SimUser(**item))
    return users


class Command(BaseCommand):
    help = "Run the innovaphone PBX simulator (AppWebsocket: login, user replication, presence) until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument(
            "--port", type=int, default=None, help="Port (default PBX_SIMULATOR_PORT; 0 picks a free one)."
        )
        parser.add_argument("--app", default=None, help="App object Name (default PBX_APP).")
        parser.add_argument(
            "--password", default=None, help=f"App object password (default PBX_PASSWORD, else {DEMO_PASSWORD!r})."
        )
        parser.add_argument("--challenge", default=None, help="A fixed login challenge (to replay documented vectors).")
        users = parser.add_mutually_exclusive_group()
        users.add_argument("--users", type=int, default=5, metavar="N", help="Generate N demo users (default 5).")
        users.add_argument("--users-file", metavar="JSON", help="Load users from a JSON file instead.")

    def handle(self, *args, **options) -> None:
        if options["users"] < 0:
            raise CommandError("--users must not be negative.")
        users = load_users(options["users_file"]) if options["users_file"] else generate_users(options["users"])
        app = options["app"] or settings.PBX_APP or "presencebridge"
        if options["password"]:
            password, source = options["password"], "from --password"
        elif settings.PBX_PASSWORD:
            password, source = settings.PBX_PASSWORD, "from PBX_PASSWORD"
        else:
            password, source = DEMO_PASSWORD, f"the demo value {DEMO_PASSWORD!r}"
        port = settings.PBX_SIMULATOR_PORT if options["port"] is None else options["port"]
        simulator = PbxSimulator(
            app=app, password=password, users=users, host=options["host"], port=port, challenge=options["challenge"]
        )
        try:
            asyncio.run(self.serve(simulator, source))
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{port}: {exc.strerror or exc}.") from exc

    async def serve(self, simulator: PbxSimulator, password_source: str) -> None:
        await simulator.start()
        self.stdout.write(
            f"PBX simulator listening on {simulator.url}\n"
            f"  App object {simulator.app!r}, password {password_source}, {len(simulator.users)} users\n"
            f"  Point the link at it with PBX_URL={simulator.url}\n"
            f"Stop with Ctrl-C."
        )
        self.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await simulator.stop()
            self.stdout.write(
                f"PBX simulator stopped ({simulator.logins} logins, {len(simulator.received)} SetPresence)."
            )
