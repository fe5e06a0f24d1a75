"""`manage.py prunetriggers`: keep the trigger log within the retention the admin set."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from presence.models import ServiceSettings
from triggers.models import Trigger


class Command(BaseCommand):
    help = "Delete trigger log entries older than the retention period (settings, default 90 days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, help="Override the retention period for this run.")
        parser.add_argument("--batch", type=int, default=5000, help="Rows deleted per statement.")

    def handle(self, *args, **options) -> None:
        days = options["days"] or ServiceSettings.current().trigger_retention_days
        cutoff = timezone.now() - dt.timedelta(days=days)
        total = 0
        # In batches: one huge DELETE would hold locks and bloat the WAL on a big table.
        while True:
            ids = list(
                Trigger.objects.filter(received_at__lt=cutoff)
                .exclude(status=Trigger.Status.QUEUED)
                .values_list("pk", flat=True)[: options["batch"]]
            )
            if not ids:
                break
            total += Trigger.objects.filter(pk__in=ids).delete()[0]
        self.stdout.write(f"Deleted {total} trigger(s) received before {cutoff:%Y-%m-%d %H:%M} ({days} days).")
