"""The PBX link panel at the top of the admin index."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from presence.models import LinkStatus
from triggers.queue import queue_depth

register = template.Library()


@register.inclusion_tag("admin/presence/link_status.html")
def link_status_panel() -> dict:
    try:
        integration_url = reverse("admin-integration")
    except NoReverseMatch:
        integration_url = ""
    return {"link": LinkStatus.current().snapshot(), "queued": queue_depth(), "integration_url": integration_url}
