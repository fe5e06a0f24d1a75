"""URLs of the admin inside the myApps frame: the same Django admin, served under /myapps/admin/.

`MyAppsFrameMiddleware` makes this the URLconf of every /myapps/admin/ request, so that `reverse()`
and `{% url %}` — the admin's own and ours — build /myapps/admin/… links there: a framed page never
links out to /admin/, which may not be framed and whose session cookie the frame does not carry.
The password sign-in is replaced by a page that says to open the app from myApps.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from presence.myapps import views
from triggers import integration

urlpatterns = [
    path("myapps/admin/signin", views.admin_sign_in, name="myapps-admin-signin"),
    path("myapps/admin/login/", views.admin_open_from_myapps, name="myapps-admin-login"),
    path("myapps/admin/preferences", admin.site.admin_view(views.admin_preferences), name="myapps-admin-preferences"),
    path("myapps/admin/", admin.site.admin_view(views.admin_overview), name="myapps-admin-overview"),
    path(
        "myapps/admin/integration/",
        admin.site.admin_view(integration.integration_view),
        name="admin-integration",
    ),
    path(
        "myapps/admin/integration/download/<slug:os_name>/",
        admin.site.admin_view(integration.download_view),
        name="admin-integration-download",
    ),
    path("myapps/admin/", admin.site.urls),
]
