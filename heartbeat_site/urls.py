"""URLs: the admin, the trigger API, its schema and docs, health and metrics, and the user page."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from heartbeat_site.helpers import bench_views
from presence import ops
from triggers import integration

urlpatterns = [
    path("admin/integration/", admin.site.admin_view(integration.integration_view), name="admin-integration"),
    path(
        "admin/integration/download/<slug:os_name>/",
        admin.site.admin_view(integration.download_view),
        name="admin-integration-download",
    ),
    path("admin/", admin.site.urls),
    path("", include("triggers.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics_view, name="metrics"),
    *([path("bench/trivial", bench_views.trivial, name="bench-trivial")] if settings.BENCH_VIEWS else []),
    path("", include("presence.userpage.urls")),
]
