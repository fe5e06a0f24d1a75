"""Operator endpoints: `/healthz` for load balancers, `/metrics` for Prometheus."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from heartbeat_site import metrics


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def link_snapshot() -> dict:
    from presence.models import LinkStatus

    return LinkStatus.current().snapshot()


def licence_snapshot() -> dict:
    from licensing.state import licence_status

    return licence_status()


@never_cache
@require_GET
def healthz(request):
    """200 when this web process can serve (database reachable); the PBX link and licence inside.

    A PBX outage must not take the web tier out of the load balancer: triggers are still accepted
    and queued, so the link's state is reported, not turned into a failure.
    """
    if not database_ok():
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    body = {"status": "ok", "database": "ok", "pbx_link": link_snapshot(), "licence": licence_snapshot()}
    return JsonResponse(body)


@never_cache
@require_GET
def metrics_view(request):
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
