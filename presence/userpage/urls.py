"""URLs of the user page: `/`, its JSON endpoints, and sign-in/sign-out with Django's own views."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from presence.userpage import views

urlpatterns = [
    path("", views.user_page, name="user-page"),
    path("api/ui/presets/<int:preset_id>/press", views.press, name="user-page-press"),
    path("api/ui/presses/<int:trigger_id>", views.press_status, name="user-page-press-status"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
