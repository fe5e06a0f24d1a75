"""One AppLogin, from the message the page forwards to the PBX user it proves — or a refusal that says why.

The order of the checks matters: the challenge is taken first (so a failed attempt still uses it
up), the App object must be the one this socket serves (its password is the only one we try), and
only a digest that matches makes us look at who it names.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from presence.models import PbxUser
from presence.myapps import tokens
from presence.myapps.config import ADMIN, AppObject
from presence.myapps.verify import MalformedLogin, digest_matches, parse_login

log = logging.getLogger("presence.myapps")

MESSAGES = {
    "app_off": _("This app is switched off: the service has no password for its App object yet."),
    "malformed": _("The sign-in from myApps is incomplete. Close the app and open it again."),
    "no_challenge": _("The sign-in came without a challenge from this service. Close the app and open it again."),
    "challenge_expired": _("The sign-in took too long or was already used. Close the app and open it again."),
    "wrong_app": _("This sign-in was made for another app (App object “%(appobj)s”), not for this one."),
    "replayed": _("This sign-in was already used once. A repeated sign-in is refused."),
    "bad_digest": _(
        "The sign-in could not be verified: the App object's password differs between the PBX and this "
        "service, or the sign-in was changed on the way."
    ),
    "unknown_user": _(
        "Your PBX user is not known to this service (yet). If it was just created, try again in a minute."
    ),
    "inactive_user": _("Your PBX user has been removed from the PBX."),
    "not_allowed": _("You may not use the admin app: your administrator has limited it to named users."),
    "unavailable": _("Signing in is not possible right now. Try again in a moment."),
}


class SignInRefused(Exception):
    """Why an AppLogin was refused: a code for machines and logs, a sentence for people (translatable)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def detail(self) -> str:
        """The sentence in the active language."""
        return str(MESSAGES[self.code]) % self.params if self.params else str(MESSAGES[self.code])


def sign_in(message: dict[str, Any], challenge: str | None, app: AppObject) -> PbxUser:
    """The PBX user this AppLogin proves, for `app`, answering `challenge`; SignInRefused otherwise."""
    try:
        return _sign_in(message, challenge, app)
    except SignInRefused as refusal:
        info = message.get("info")
        appobj = info.get("appobj") if isinstance(info, dict) else None
        # Who tried what, never the digest: enough to debug a PBX set-up, nothing to replay.
        log.info(
            "myApps %s app: sign-in refused (%s) for sip=%r appobj=%r",
            app.role,
            refusal.code,
            str(message.get("sip", ""))[:64],
            str(appobj or "")[:64],
        )
        raise
    except tokens.TokenStoreUnavailable as exc:
        log.warning("myApps %s app: sign-in impossible, the cache cannot be reached", app.role)
        raise SignInRefused("unavailable") from exc


def _sign_in(message: dict[str, Any], challenge: str | None, app: AppObject) -> PbxUser:
    if not app.enabled:
        raise SignInRefused("app_off")
    try:
        login = parse_login(message)
    except MalformedLogin as exc:
        raise SignInRefused("malformed") from exc
    if challenge is None:
        raise SignInRefused("no_challenge")
    if not tokens.take_challenge(challenge):
        raise SignInRefused("challenge_expired")
    if login.app_object != app.name:
        # The password is chosen by the signed info.appobj: a login for another App object (the user
        # app's on the admin socket, say) is refused before any password is tried.
        raise SignInRefused("wrong_app", appobj=login.app_object or "?")
    if tokens.login_was_used(login.digest):
        raise SignInRefused("replayed")
    if not digest_matches(login, challenge, app.password):
        raise SignInRefused("bad_digest")
    tokens.mark_login_used(login.digest)
    user = PbxUser.objects.filter(guid=login.guid).first() if login.guid else None
    if user is None:
        raise SignInRefused("unknown_user")
    if not user.active:
        raise SignInRefused("inactive_user")
    if app.role == ADMIN and not may_use_admin_app(user):
        raise SignInRefused("not_allowed")
    log.info("myApps %s app: %s signed in", app.role, user.h323 or user.guid)
    return user


def may_use_admin_app(user: PbxUser) -> bool:
    """Whoever the PBX gave the admin App object, unless MYAPPS_ADMIN_USERS names who may (login name or GUID)."""
    allowed = {name.lower() for name in settings.MYAPPS_ADMIN_USERS}
    return not allowed or user.h323.lower() in allowed or user.guid.lower() in allowed
