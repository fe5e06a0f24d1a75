"""`manage.py license show | activate KEY | demo`: the licence from scripts and configuration management."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from licensing import tokens, trust
from licensing.models import Installation, Licence
from licensing.state import compute_status, local_today

DEMO_SEATS = 5
DEMO_DAYS = 30


class Command(BaseCommand):
    help = "Show this installation's instance id and licence, enter a licence key, or set up the demo licence."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{show,activate,demo}")
        sub.add_parser("show", help="Print the instance id and the licence state.")
        activate = sub.add_parser("activate", help="Enter a licence key (same checks as the admin page).")
        activate.add_argument("key", help="The licence key (one line starting with PHL1.).")
        sub.add_parser(
            "demo",
            help=f"Without LICENSE_PUBLIC_KEY: generate a local demo licence ({DEMO_SEATS} seats, {DEMO_DAYS} days).",
        )

    def handle(self, *args, **options) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_show(self, options) -> None:
        status = compute_status()
        self.stdout.write(f"Instance id: {status['instance_id']}")
        self.stdout.write(f"State:       {status['state']}")
        if status["customer"]:
            self.stdout.write(f"Customer:    {status['customer']}")
            self.stdout.write(f"Seats:       {status['seats_used']} used of {status['seats_total']}")
            self.stdout.write(f"Valid until: {status['valid_until']} ({status['days_left']} days left)")
        else:
            self.stdout.write(f"Seats:       {status['seats_used']} used of {status['seats_total']}")
        self.stdout.write(status["message"])

    def do_activate(self, options) -> None:
        try:
            licence = Licence.enter(options["key"])
        except tokens.InvalidLicence as exc:
            raise CommandError(f"Licence key refused: {exc.message} Nothing was changed.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Licence entered: {licence.customer}, {licence.seats} seats, valid until {licence.valid_until}."
            )
        )

    def do_demo(self, options) -> None:
        """Idempotent: `make run` calls it on every start (its lines are hints, in LANGUAGE_CODE's language)."""
        if not trust.uses_demo_key():
            self.stdout.write(gettext("LICENSE_PUBLIC_KEY is set: no demo licence is generated."))
            return
        active = Licence.objects.filter(active=True).first()
        if active is not None:
            text = (
                gettext("The demo licence is already active (valid until %(until)s): nothing to do.")
                if active.demo
                else gettext("A licence is already active (valid until %(until)s): nothing to do.")
            )
            self.stdout.write(text % {"until": date_format(active.valid_until, "SHORT_DATE_FORMAT")})
            return
        if Licence.objects.exists():
            # One demo per installation: restarting must not renew an expired demo for ever.
            raise CommandError(
                gettext(
                    "This installation already had a licence, so no demo licence is generated. Order a licence for "
                    "instance id %(instance)s and enter it with `manage.py license activate`."
                )
                % {"instance": Installation.current().instance_id}
            )
        key, created = trust.ensure_demo_private_key()
        today = local_today()
        terms = tokens.LicenceTerms(
            customer="Demo",
            instance=Installation.current().instance_id,
            seats=DEMO_SEATS,
            valid_from=today,
            valid_until=today + dt.timedelta(days=DEMO_DAYS),
            issued_at=timezone.now(),
            serial=0,
            demo=True,
        )
        try:
            Licence.enter(tokens.issue(terms, key))
        except tokens.InvalidLicence as exc:
            raise CommandError(f"The demo licence could not be entered: {exc.message}") from None
        text = (
            gettext(
                "Demo licence entered: %(seats)s seats until %(until)s (new demo key in %(path)s). "
                "For production set LICENSE_PUBLIC_KEY and enter a licence for instance id %(instance)s."
            )
            if created
            else gettext(
                "Demo licence entered: %(seats)s seats until %(until)s (demo key %(path)s). "
                "For production set LICENSE_PUBLIC_KEY and enter a licence for instance id %(instance)s."
            )
        )
        values = {
            "seats": DEMO_SEATS,
            "until": date_format(terms.valid_until, "SHORT_DATE_FORMAT"),
            "path": trust.demo_key_path(),
            "instance": terms.instance,
        }
        self.stdout.write(self.style.WARNING(text % values))
