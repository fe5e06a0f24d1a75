"""`manage.py prunetriggers`: keep the trigger log within the retention the admin set."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from presence.models import ServiceSettings
from triggers import queue


class Command(BaseCommand):
    help = "Delete trigger log entries older than the retention period (settings, default 90 days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, help="Override the retention period for this run.")
        parser.add_argument("--batch", type=int, default=5000, help="Rows deleted per statement.")

    def handle(self, *args, **options) -> None:
        days = options["days"] or ServiceSettings.current().trigger_retention_days
        cutoff = timezone.now() - dt.timedelta(days=days)
        # In batches (triggers.queue.prune): one huge DELETE would hold locks and bloat the WAL.
        total = queue.prune(cutoff, options["batch"])
        self.stdout.write(f"Deleted {total} trigger(s) received before {cutoff:%Y-%m-%d %H:%M} ({days} days).")
