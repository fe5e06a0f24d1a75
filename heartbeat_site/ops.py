"""Operator endpoints: `/healthz` for load balancers, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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
    body = {"status": "ok", "database": "ok", "pbx_link": link_snapshot(), "licence": licence_snapshot()}
    return JsonResponse(body)


@never_cache
@require_GET
def metrics_view(request):
    metrics.refresh_from_database()
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
