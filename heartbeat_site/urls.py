"""URLs: the admin, the trigger API, its schema and docs, health and metrics, and the user page."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from heartbeat_site import ops

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("triggers.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("healthz", ops.healthz, name="healthz"),
]
