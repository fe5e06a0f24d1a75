"""The user page's rules in one place: who the signed-in person is on the PBX, and the one write path.

Views and the websocket consumer call these functions with the signed-in Django user and nothing
else that could name a person: there is no parameter through which a browser could ask for
somebody else's presence. Refusals are the trigger queue's `Refused` (a status code, a short code
and a sentence for people), so the page, the JSON endpoint and the socket refuse in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from presence.identity import AmbiguousUser, UnknownUser, resolve_user
from presence.models import ACTIVITY_COLOURS, LinkStatus, PbxUser, Preset, ServiceSettings
from presence.wording import DECISIONS
from triggers import queue
from triggers.models import Trigger
from triggers.queue import Refused
from triggers.throttles import BUTTON_SCOPE, over_limit

KEY_NAME = "user page"
UNKNOWN_COLOUR = "#d9d9d9"
ACTIVITY_LABELS = {"": _("Available"), "away": _("Away"), "busy": _("Busy"), "dnd": _("Do not disturb")}


def ensure_offered() -> None:
    """Raise when the administrator switched the page off (ServiceSettings.offer_user_page)."""
    if not ServiceSettings.current().offer_user_page:
        raise Refused(403, "page_not_offered", gettext("Your administrator does not offer the presence page."))


def pbx_user_for(django_user: AbstractBaseUser | AnonymousUser) -> PbxUser:
    """The PBX user the signed-in person is, by the same identity matching as triggers.

    The username is the only input: SSO gives `CORP\\alice` or `alice@corp.example`, a local account
    gives `alice`, and `resolve_user` maps all of them the way the trigger API does.
    """
    if not django_user.is_authenticated:
        raise Refused(401, "not_signed_in", gettext("Sign in first."))
    username = django_user.get_username()
    try:
        match = resolve_user(username)
        return PbxUser.objects.get(pk=match.user.pk)  # the page shows more than matching loads
    except UnknownUser as exc:
        detail = gettext("No PBX user matches your sign-in name %(name)s (by login name, e-mail or number).")
        raise Refused(403, "no_pbx_user", detail % {"name": repr(username)}) from exc
    except AmbiguousUser as exc:
        detail = gettext("Your sign-in name matches more than one PBX user, so none is chosen: %(why)s")
        raise Refused(403, "ambiguous_user", detail % {"why": DECISIONS(str(exc))}) from exc


def page_user(django_user: AbstractBaseUser | AnonymousUser) -> PbxUser:
    """Offered and resolved, in that order: what the page and the socket check before anything else."""
    ensure_offered()
    return pbx_user_for(django_user)


def buttons() -> list[Preset]:
    """The presets the administrator marked "show on user page", in their order."""
    return list(Preset.objects.filter(show_on_user_page=True).order_by("order", "name"))


def display_name(user: PbxUser) -> str:
    return user.dn or user.cn or user.h323 or "you"


def presence_view(activity: str, note: str) -> dict:
    """The presence as the page shows it: myApps' colour for the activity, a label, the note.

    The colour follows the activity (what colleagues see in myApps), not a preset: a presence set
    on the phone matches no preset, and two presets may share an activity.
    """
    activity = activity or ""
    label = str(ACTIVITY_LABELS.get(activity) or activity.replace("-", " ").capitalize())
    return {
        "type": "presence",
        "activity": activity,
        "label": label,
        "note": note or "",
        "color": ACTIVITY_COLOURS.get(activity, UNKNOWN_COLOUR),
    }


def outcome_view(event: dict) -> dict:
    """A press's outcome from the link worker (`pagefeed.outcome_message`), its reason said in the active
    language: `reason` stays the trigger log's English (the scripts compare it), `reason_text` is for people."""
    reason = event.get("reason", "")
    return {"id": event["id"], "status": event["status"], "reason": reason, "reason_text": DECISIONS(reason)}


def current_presence(user: PbxUser) -> dict:
    """The user's `tel:` presence (the entry this service sets), as `presence_view` shows it."""
    entry = user.contact(settings.PBX_CONTACT)
    view = presence_view(entry.get("activity") or "", entry.get("note") or "")
    view["known"] = bool(entry)
    return view


def link_connected() -> bool:
    """Whether a live worker holds an open PBX link right now (read only: no row is created)."""
    status = LinkStatus.objects.filter(pk=1).first()
    return bool(status and status.snapshot()["connected"])


def press_button(
    django_user: AbstractBaseUser | AnonymousUser, preset_id: int, *, source_ip: str | None = None
) -> Trigger:
    """Queue the preset for the signed-in user's own presence; raise Refused when that is not allowed.

    The button trigger takes the same path as an API trigger (triggers.queue): a durable row, then the
    link worker hears of it. A licence refusal is written to the trigger log too, as the API does.
    """
    user = page_user(django_user)
    return press_for(user, preset_id, by=django_user.get_username(), source_ip=source_ip)


def press_for(
    user: PbxUser, preset_id: int, *, by: str, source_ip: str | None = None, key_name: str = KEY_NAME
) -> Trigger:
    """`press_button` for a PBX user already established (the user page's sign-in, the myApps user app's
    login): `by` is the name they signed in with, `key_name` the page's name in the trigger log."""
    # Per person (their PBX user, whichever account or app they press from); a refused press writes nothing.
    wait = over_limit(BUTTON_SCOPE, settings.USER_PAGE_PRESS_RATE, str(user.pk))
    if wait is not None:
        detail = gettext("You pressed too often. Wait a moment, then press again.")
        raise Refused(429, "rate_limited", detail, retry_after=wait)
    preset = Preset.objects.filter(pk=preset_id, show_on_user_page=True).first()
    if preset is None:
        raise Refused(404, "unknown_preset", gettext("This button is no longer offered: reload the page."))
    return queue.press(user, preset.pk, username=by, source_ip=source_ip, key_name=key_name)


def own_trigger(django_user: AbstractBaseUser | AnonymousUser, trigger_id: int) -> Trigger:
    """One of the signed-in user's own button presses; anything else is "not found", never someone else's."""
    return trigger_of(page_user(django_user), trigger_id)


def trigger_of(user: PbxUser, trigger_id: int) -> Trigger:
    """`own_trigger` for a PBX user already established."""
    trigger = Trigger.objects.filter(pk=trigger_id, pbx_user=user, source=Trigger.Source.BUTTON).first()
    if trigger is None:
        raise Refused(404, "unknown_trigger", gettext("No such button press of yours."))
    return trigger


@dataclass(frozen=True)
class PressState:
    """What the page says about a press: the row's status plus whether the PBX is reachable now.

    `reason` is the trigger log's (English; the page compares it); `reason_text` says it to the person.
    """

    id: int
    status: str
    reason: str
    link_connected: bool

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "reason_text": DECISIONS(self.reason),
            "link_connected": self.link_connected,
        }


def press_state(trigger: Trigger) -> PressState:
    return PressState(trigger.pk, trigger.status, trigger.reason, link_connected())
