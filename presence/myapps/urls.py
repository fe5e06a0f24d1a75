"""URLs of the myApps apps outside the framed admin (which `frame_urls` serves under /myapps/admin/)."""

from __future__ import annotations

from django.urls import path

from presence.myapps import preview, views

urlpatterns = [
    path("myapps/user.htm", views.user_app_page, name="myapps-user"),
    path("myapps/admin.htm", views.admin_app_page, name="myapps-admin"),
    path("myapps/user.png", views.icon, {"role": "user"}, name="myapps-user-icon"),
    path("myapps/admin.png", views.icon, {"role": "admin"}, name="myapps-admin-icon"),
    path("myapps/preview", preview.preview_page, name="myapps-preview"),
    path("myapps/preview/login", preview.preview_login, name="myapps-preview-login"),
]
