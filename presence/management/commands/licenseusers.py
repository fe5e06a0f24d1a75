"""Flip PBX users' licence switches from scripts: `licenseusers --on alice bob` / `--off carol`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from licensing import seats


class Command(BaseCommand):
    help = "Turn PBX users' licence switches on or off, by login name (h323)."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--on", nargs="+", metavar="LOGIN", help="Switch these users' licence on.")
        group.add_argument("--off", nargs="+", metavar="LOGIN", help="Switch these users' licence off.")

    def handle(self, *args, **options) -> None:
        from presence.models import PbxUser

        on = options["on"] is not None
        logins = options["on"] if on else options["off"]
        found = dict(PbxUser.objects.filter(h323_key__in=[x.lower() for x in logins]).values_list("h323_key", "guid"))
        unknown = [x for x in logins if x.lower() not in found]
        if unknown:
            raise CommandError(f"Unknown PBX login name(s): {', '.join(unknown)}. Nothing was changed.")
        try:
            changed = seats.set_switch([found[x.lower()] for x in logins], on)
        except seats.SeatLimitExceeded as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc
        state = "on" if on else "off"
        self.stdout.write(f"Licence switched {state} for {changed} user(s); {len(logins) - changed} already {state}.")
