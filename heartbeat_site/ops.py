"""Operator endpoints: `/healthz` for load balancers."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request):
    """200 when this web process can serve (database reachable); details inside."""
    db = database_ok()
    body = {"status": "ok" if db else "error", "database": "ok" if db else "unreachable"}
    return JsonResponse(body, status=200 if db else 503)
