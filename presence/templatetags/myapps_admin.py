"""`{% myapps_status_panel %}`: on the admin index, which myApps app is off and how to switch it on."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from presence.myapps.setup import app_setups

register = template.Library()


@register.inclusion_tag("admin/presence/myapps_status.html")
def myapps_status_panel() -> dict:
    try:
        integration_url = reverse("admin-integration")
    except NoReverseMatch:
        integration_url = ""
    apps = app_setups()
    return {"off": [app for app in apps if not app.enabled], "integration_url": integration_url}
