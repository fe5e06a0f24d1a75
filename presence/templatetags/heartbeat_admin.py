"""The PBX link panel at the top of the admin index."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from presence.models import LinkStatus
from triggers.queue import queue_depth

register = template.Library()


@register.inclusion_tag("admin/presence/link_status.html", takes_context=True)
def link_status_panel(context) -> dict:
    request = context.get("request")
    try:
        integration_url = reverse("admin-integration")
    except NoReverseMatch:
        integration_url = ""
    if request is None or not request.user.has_perm("triggers.view_apikey"):
        integration_url = ""  # the page would refuse them
    status = LinkStatus.current()
    return {
        "link": status.snapshot(),
        # As datetimes, for the template to show in the reader's language and the server's time zone.
        "since": status.since,
        "directory_synced_at": status.directory_synced_at,
        "queued": queue_depth(),
        "integration_url": integration_url,
    }
