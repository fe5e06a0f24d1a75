"""Flip PBX users' licence switches from scripts: `licenseusers --on alice bob` / `--off carol`.

Same rules as the admin's switches: all or nothing within the licence's seats (race-free, see
`licensing.seats.set_switch`); the running PBX link notices the change within a second and (un)subscribes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from licensing import seats
from licensing.state import licence_status


class Command(BaseCommand):
    help = "Turn PBX users' licence switches on or off, by login name (h323), within the licence's seats."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--on", nargs="+", metavar="LOGIN", help="Switch these users' licence on.")
        group.add_argument("--off", nargs="+", metavar="LOGIN", help="Switch these users' licence off.")

    def handle(self, *args, **options) -> None:
        from presence.models import PbxUser

        on = options["on"] is not None
        logins = list(dict.fromkeys(x.lower() for x in (options["on"] if on else options["off"])))
        found = dict(PbxUser.objects.filter(h323_key__in=logins).values_list("h323_key", "guid"))
        unknown = [x for x in logins if x not in found]
        if unknown:
            raise CommandError(f"Unknown PBX login name(s): {', '.join(unknown)}. Nothing was changed.")
        try:
            changed = seats.set_switch([found[x] for x in logins], on)
        except seats.SeatLimitExceeded as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc
        state = "on" if on else "off"
        status = licence_status()
        self.stdout.write(
            f"Licence switched {state} for {changed} user(s); {len(logins) - changed} already {state}. "
            f"Seats: {status['seats_used']} of {status['seats_total']} used."
        )
