"""`{% licence_banner %}`: the licence state on every admin page (red, amber, or "demo licence")."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from licensing.state import licence_state
from licensing.wording import LICENCE

register = template.Library()


@register.inclusion_tag("admin/licensing/banner.html", takes_context=True)
def licence_banner(context) -> dict:
    """Staff only (the login page must not tell strangers who the customer is); cached state, no counting."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"status": {"state": "valid"}}
    try:
        licence_url = reverse("admin:licensing_licence_changelist")
    except NoReverseMatch:
        licence_url = ""
    status = licence_state()
    return {"status": status, "message": LICENCE(status["message"]), "licence_url": licence_url}
