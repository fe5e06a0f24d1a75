"""The user page's views: the page itself, the button endpoint and the press status. Thin on purpose.

Each view passes `request.user` to `services` and nothing the browser says about *whom* to change:
a URL carries at most a preset or a trigger id, and both are checked against the signed-in user.
The JSON endpoints use the session and CSRF (Django's middleware), never the trigger API's keys.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from heartbeat_site.helpers.http import client_ip
from licensing.state import refusal_for
from presence.userpage import services
from presence.userpage.strings import PRESS_STRINGS
from presence.wording import DECISIONS
from triggers.queue import Refused

# What the page's script says, in the page's language ({name}, {reason}, {status} are filled in there).
PAGE_STRINGS = {
    **PRESS_STRINGS,
    "notLive": _("Not live — reload the page"),
    "unreachable": _("The server cannot be reached. Check your connection and try again."),
    "sessionExpired": _("Your session has expired. Reload the page and press again."),
    "answered": _("The server answered {status}. Try again in a moment."),
}


@never_cache
@require_GET
def user_page(request: HttpRequest) -> HttpResponse:
    """`/`: the signed-in user's presence and the preset buttons (or a page that says why not)."""
    try:
        services.ensure_offered()
    except Refused as refusal:
        # Said before sign-in on purpose: nobody should type a password for a page that is switched off.
        return render(request, "userpage/not_offered.html", {"refusal": refusal}, status=refusal.status)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        user = services.pbx_user_for(request.user)
    except Refused as refusal:
        # A person without a phone (an administrator, say) is a normal case, not an error.
        return render(request, "userpage/no_match.html", {"refusal": refusal})
    licence = refusal_for(user.guid)
    context = {
        "name": services.display_name(user),
        "login": user.h323,
        "presence": services.current_presence(user),
        "buttons": services.buttons(),
        "licence_refusal": DECISIONS(licence.detail) if licence else "",
        "link_connected": services.link_connected(),
        "page_config": {
            "csrfToken": get_token(request),
            "socketPath": "/ws/presence/",
            "statusUrl": reverse("user-page-press-status", args=[0]),
            "loginUrl": settings.LOGIN_URL,
            "strings": {key: str(text) for key, text in PAGE_STRINGS.items()},
        },
    }
    return render(request, "userpage/page.html", context)


@never_cache
@require_POST
def press(request: HttpRequest, preset_id: int) -> JsonResponse:
    """`POST /api/ui/presets/<id>/press`: set that preset on the signed-in user's own presence (202)."""
    try:
        trigger = services.press_button(request.user, preset_id, source_ip=client_ip(request))
    except Refused as refusal:
        # The trigger log keeps a licence refusal in English; the person reads it in their language.
        response = JsonResponse({**refusal.as_json(), "detail": DECISIONS(refusal.detail)}, status=refusal.status)
        if refusal.retry_after is not None:
            response["Retry-After"] = str(int(refusal.retry_after) + 1)
        return response
    return JsonResponse(services.press_state(trigger).as_json(), status=202)


@never_cache
@require_GET
def press_status(request: HttpRequest, trigger_id: int) -> JsonResponse:
    """`GET /api/ui/presses/<id>`: how one of the user's own presses stands.

    The socket brings the outcome within a second; this is the fallback for what it does not carry
    (a press the engine skipped because the PBX already shows that preset, a lost channel message).
    """
    try:
        trigger = services.own_trigger(request.user, trigger_id)
    except Refused as refusal:
        return JsonResponse(refusal.as_json(), status=refusal.status)
    return JsonResponse(services.press_state(trigger).as_json())
