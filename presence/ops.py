"""Operator endpoints: `/healthz` for load balancers, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from heartbeat_site.helpers import metrics
from licensing.state import licence_status
from presence.models import LinkStatus
from triggers.queue import queue_depth


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def may_see_details(request) -> bool:
    """Staff (signed in to the admin) or a monitoring system with `Authorization: Bearer <HEALTHZ_TOKEN>`."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = settings.HEALTHZ_TOKEN
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


@never_cache
@require_GET
def healthz(request):
    """200 when this web process can serve (database reachable); the PBX link and licence inside.

    A PBX outage must not take the web tier out of the load balancer: triggers are still accepted
    and queued, so the link's state is reported, not turned into a failure. Anyone gets the status;
    the details (instance id, customer, which host holds the link) only staff or the token holder.
    """
    if not database_ok():
        return JsonResponse({"status": "error"}, status=503)
    if not may_see_details(request):
        return JsonResponse({"status": "ok"})
    body = {"status": "ok", "database": "ok", "pbx_link": LinkStatus.current().snapshot(), "licence": licence_status()}
    return JsonResponse(body)


def refresh_from_database() -> None:
    """Gauges a web process can only know from the database (the link runs elsewhere)."""
    snapshot = LinkStatus.current().snapshot(timezone.now())
    metrics.LINK_UP.set(1 if snapshot["connected"] else 0)
    metrics.LINK_RECONNECTS.set(snapshot["reconnects"])
    metrics.LINK_SUBSCRIPTIONS.set(snapshot["subscriptions"])
    metrics.LINK_IN_FLIGHT.set(snapshot["in_flight"])
    metrics.QUEUE_DEPTH.set(queue_depth())
    days_left = licence_status().get("days_left")
    metrics.LICENCE_DAYS_LEFT.set(days_left if days_left is not None else -1)


@never_cache
@require_GET
def metrics_view(request):
    refresh_from_database()
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
