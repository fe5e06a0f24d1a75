"""URLs: the admin, the trigger API, its schema and docs, health and metrics, the user page and the myApps apps.

/myapps/admin/… is served by `presence.myapps.frame_urls` (the admin inside the myApps frame).
"""

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
    # The language switch on the user page and in the admin: POST /i18n/setlang/ (Django's set_language).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("triggers.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics_view, name="metrics"),
    *([path("bench/trivial", bench_views.trivial, name="bench-trivial")] if settings.BENCH_VIEWS else []),
    path("", include("presence.myapps.urls")),
    path("", include("presence.userpage.urls")),
]
