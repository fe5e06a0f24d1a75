"""The apps' pages (`/myapps/user.htm`, `/myapps/admin.htm`), icons, and the admin app's way into the admin.

The `.htm` pages hold no secret and need no session: they sign in over their websocket with the
login myApps gives them. The admin app then posts its one-time ticket to `admin_sign_in`, which
opens a framed admin session for the account linked to that PBX user (`accounts`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import login
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from licensing.models import Seat
from licensing.state import licence_status
from licensing.wording import LICENCE
from presence.models import EventRule, OverrideRule, PbxUser, Preset
from presence.myapps import accounts, tokens
from presence.myapps.config import ADMIN, USER, AppObject, app_language, app_object
from presence.myapps.middleware import SESSION_GUID, SESSION_LANG, SESSION_SCHEME
from presence.myapps.signin import may_use_admin_app
from presence.userpage.strings import PRESS_STRINGS
from triggers.models import ApiKey
from triggers.recipes import trigger_url
from triggers.wording import key_state_name

log = logging.getLogger("presence.myapps")

ICONS = Path(__file__).resolve().parent / "icons"
# Sentences the apps' scripts show, in the page's language ({name}, {reason} are filled in there).
STRINGS = {
    **PRESS_STRINGS,
    "notSignedIn": _("Not signed in"),
    "offline": _("The service cannot be reached right now. Try again in a moment."),
    "unreachable": _("The service cannot be reached. Close the app and open it again."),
    "outsideMyApps": _(
        "This app signs you in through myApps, and myApps did not answer. Open it from myApps — outside "
        "myApps, use the presence page of this service instead."
    ),
    "noLogin": _("myApps gave no sign-in for this app ({reason}). Ask your administrator to assign it to you."),
}
TICKET_REFUSED = _("This sign-in has expired or was already used. Close the admin app and open it again.")
USER_REFUSED = _("Your PBX user may not use the admin app (any more).")


def language(request: HttpRequest) -> str:
    """myApps' `?lang=`, when we speak it; else the default language."""
    return app_language(request.GET.get("lang"))


def scheme(request: HttpRequest) -> str:
    """myApps' `?scheme=` (light or dark); empty: follow the device's setting."""
    value = request.GET.get("scheme", "")
    return value if value in ("light", "dark") else ""


def _app_page(request: HttpRequest, app: AppObject, template: str) -> HttpResponse:
    lang = language(request)
    config = {
        # myApps passes the App object's Name as `name`; getLogin must ask for that app.
        "app": request.GET.get("name") or app.name,
        "socketPath": f"{app.path}?lang={lang}",
        "enabled": app.enabled,
        "lang": lang,
    }
    with translation.override(lang):
        config["strings"] = {key: str(text) for key, text in STRINGS.items()}
        context = {"app": app, "lang": lang, "scheme": scheme(request), "page_config": config}
        return render(request, template, context)


@never_cache
@require_GET
def user_app_page(request: HttpRequest) -> HttpResponse:
    """`/myapps/user.htm`: the user app (its own presence and the preset buttons)."""
    return _app_page(request, app_object(USER), "myapps/user.html")


@never_cache
@require_GET
def admin_app_page(request: HttpRequest) -> HttpResponse:
    """`/myapps/admin.htm`: signs in through myApps, then opens the admin inside the frame."""
    return _app_page(request, app_object(ADMIN), "myapps/admin.html")


@require_GET
@cache_control(max_age=86400)
def icon(request: HttpRequest, role: str) -> FileResponse:
    """`/myapps/user.png`, `/myapps/admin.png`: the icons myApps shows (50×50, as innovaphone's tutorial)."""
    return FileResponse((ICONS / f"{role}.png").open("rb"), content_type="image/png")


def _refused(request: HttpRequest, detail: str, status: int) -> HttpResponse:
    lang = app_language(request.POST.get("lang") or request.GET.get("lang"))
    name = app_object(ADMIN).name
    context = {
        "detail": detail,
        "lang": lang,
        "retry": f"/myapps/admin.htm?{urlencode({'name': name, 'lang': lang})}",
        "page_config": {"app": name, "strings": {}},
    }
    with translation.override(lang):
        return render(request, "myapps/admin_refused.html", context, status=status)


@csrf_exempt  # the frame has no cookie yet: the single-use ticket is what this request proves
@never_cache
@require_POST
def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """POST `ticket`: sign into the admin inside the frame, as the account linked to the ticket's PBX user."""
    try:
        data = tokens.take_ticket(request.POST.get("ticket", ""))
    except tokens.TokenStoreUnavailable:
        data = None
    if data is None:
        return _refused(request, str(TICKET_REFUSED), 403)
    with translation.override(app_language(data.get("lang"))):
        pbx_user = PbxUser.objects.filter(guid=data["guid"], active=True).first()
        if pbx_user is None or not may_use_admin_app(pbx_user):
            return _refused(request, str(USER_REFUSED), 403)
        try:
            account = accounts.admin_account(pbx_user)
        except accounts.AccountRefused as refusal:
            log.warning("myApps admin app: %s refused (%s)", pbx_user.h323, refusal.code)
            return _refused(request, refusal.detail, 403)
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_GUID] = pbx_user.guid
    request.session[SESSION_LANG] = app_language(data.get("lang"))
    request.session[SESSION_SCHEME] = _scheme_value(request.POST.get("scheme"))
    log.info("myApps admin app: %s signed into the admin as %s", pbx_user.h323, account.get_username())
    return redirect(reverse("admin:index"))


def _scheme_value(value: str | None) -> str:
    return value if value in ("light", "dark") else "auto"


@never_cache
@require_POST
def admin_preferences(request: HttpRequest) -> HttpResponse:
    """POST `scheme` and/or `lang`: what myApps said (SetScheme, SetLang), kept for the framed session.

    In the session, not in the admin's usual localStorage: a cross-site frame may get no storage.
    """
    if "scheme" in request.POST:
        request.session[SESSION_SCHEME] = _scheme_value(request.POST["scheme"])
    if "lang" in request.POST:
        request.session[SESSION_LANG] = app_language(request.POST["lang"])
    return HttpResponse(status=204)


@never_cache
def admin_open_from_myapps(request: HttpRequest) -> HttpResponse:
    """Where the framed admin sends a visitor without a session: no password form, the way in is myApps."""
    return _refused(request, "", 200)


def admin_overview(request: HttpRequest) -> HttpResponse:
    """The framed admin's home page: the reference product's admin app at a glance, then the admin's apps."""
    user = request.user
    licence = licence_status() if user.has_perm("licensing.view_licence") else None
    extra = {
        "trigger_url": trigger_url(),
        "api_keys": (
            [(key, key_state_name(key.state)) for key in ApiKey.objects.all()[:10]]
            if user.has_perm("triggers.view_apikey")
            else None
        ),
        "presets": list(Preset.objects.all()) if user.has_perm("presence.view_preset") else None,
        "event_rules": (
            list(EventRule.objects.select_related("preset")) if user.has_perm("presence.view_eventrule") else None
        ),
        "override_rules": OverrideRule.objects.count() if user.has_perm("presence.view_overriderule") else None,
        "licence": licence,
        "licence_message": LICENCE(licence["message"]) if licence is not None else "",
        # The seat count is small (bounded by the licence); the directory is not counted (50,000 users).
        "users": {"licensed": Seat.objects.count()} if user.has_perm("presence.view_pbxuser") else None,
    }
    response = admin.site.index(request, extra_context=extra)
    response.template_name = ["myapps/admin_overview.html"]
    return response
