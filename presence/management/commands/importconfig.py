"""Read a configuration written by exportconfig: validate all of it, then replace it in one transaction."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, no_translations


class Command(BaseCommand):
    help = (
        "Replace presets, event rules, override rules and settings with those in FILE (JSON, as written by "
        "exportconfig; '-' reads standard input). Nothing changes unless the whole file is valid."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and show what would change; change nothing."
        )

    @no_translations  # machine and command-line text: the checks' messages in English, whatever is active
    def handle(self, *args, **options) -> None:
        from presence.configio import ConfigError, import_config

        name = options["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            plan = import_config(text, source=name, dry_run=options["dry_run"])
        except ConfigError as exc:
            problems = "\n".join(f"  {e}" for e in exc.errors)
            raise CommandError(f"{name} is not a valid configuration; nothing was changed.\n{problems}") from exc
        self.stdout.write(plan.describe())
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Configuration imported from {name}."))
