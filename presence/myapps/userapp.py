"""What the myApps user app shows and does, by the user page's rules (`presence.userpage.services`).

Every function takes the PBX user the app's login proved — never a user named by the page — and
returns a message for the app's websocket. The rules are the user page's: the page must be offered,
a licence is required (an unlicensed user is told so and gets no buttons), only the presets the
administrator shows are buttons, and a press takes the user page's one write path (`press_for`).
People-facing text is in the app's language (myApps' `lang`); codes stay English.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from licensing.state import refusal_for
from presence.models import PbxUser
from presence.userpage import services
from triggers.queue import Refused

KEY_NAME = "myApps user app"
REFUSALS = {
    "not_licensed": _("You have no licence for automatic presence. Ask your administrator to switch it on."),
    "licence_expired": _("The licence of this service has expired: presence cannot be changed here."),
    "page_not_offered": _("Your administrator does not offer the presence buttons."),
    "unknown_preset": _("This button is no longer offered. Close the app and open it again."),
    "unknown_trigger": _("No such button press of yours."),
}


def refusal_text(code: str, fallback: str) -> str:
    text = REFUSALS.get(code)
    return str(text) if text is not None else fallback


def presence(view: dict) -> dict:
    """A presence from `services.presence_view` (made in the app's language) as the app's message."""
    return {**view, "mt": "Presence"}


def state(user_id: int) -> dict:
    """Everything the app shows after the login: who, the presence, the buttons — or why not."""
    user = PbxUser.objects.get(pk=user_id)
    message = {
        "mt": "UserState",
        "name": services.display_name(user),
        "login": user.h323,
        "presence": presence(services.current_presence(user)),
        "link_connected": services.link_connected(),
        "refusal": None,
        "buttons": [],
    }
    try:
        services.ensure_offered()
    except Refused as refusal:
        return message | {"refusal": {"code": refusal.code, "detail": refusal_text(refusal.code, refusal.detail)}}
    licence = refusal_for(user.guid)
    if licence is not None:
        return message | {"refusal": {"code": licence.code, "detail": refusal_text(licence.code, licence.detail)}}
    message["buttons"] = [
        {"id": preset.pk, "name": preset.name, "note": preset.note, "color": preset.display_color}
        for preset in services.buttons()
    ]
    return message


def press(user_id: int, preset_id: object, *, source_ip: str | None) -> dict:
    """Queue a preset for the user's own presence: the press's id and state, or a refusal."""
    if not isinstance(preset_id, int) or isinstance(preset_id, bool):
        return {"error": "bad_request", "detail": str(_("The press names no button."))}
    user = PbxUser.objects.get(pk=user_id)
    try:
        services.ensure_offered()
        trigger = services.press_for(user, preset_id, by=user.h323, source_ip=source_ip, key_name=KEY_NAME)
    except Refused as refusal:
        return {"error": refusal.code, "detail": refusal_text(refusal.code, refusal.detail)}
    return services.press_state(trigger).as_json()


def press_status(user_id: int, trigger_id: object) -> dict:
    """How one of the user's own presses stands (the fallback when the socket missed its outcome)."""
    if not isinstance(trigger_id, int) or isinstance(trigger_id, bool):
        return {"error": "bad_request", "detail": str(_("The question names no press."))}
    user = PbxUser.objects.get(pk=user_id)
    try:
        trigger = services.trigger_of(user, trigger_id)
    except Refused as refusal:
        return {"error": refusal.code, "detail": refusal_text(refusal.code, refusal.detail)}
    return services.press_state(trigger).as_json()
