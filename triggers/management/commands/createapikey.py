"""`manage.py createapikey NAME`: a new API key, printed once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from triggers.models import ApiKey


class Command(BaseCommand):
    help = "Create a named API key for the trigger API and print it once (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Where the key is used, e.g. 'GPO Windows clients'.")

    def handle(self, *args, **options) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("The key needs a name.")
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"A key named {name!r} exists already: rotate it in the admin or pick another name.")
        _, clear = ApiKey.create(name)
        self.stdout.write(clear)
        self.stderr.write(f"Created API key {name!r}. It is shown only this once.")
