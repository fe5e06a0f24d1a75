"""Single sign-on through a trusted reverse proxy (Kerberos/NTLM on a Windows domain, or any SSO proxy).

Installed by settings only when `SSO_HEADER_ENABLED` is on; the proxy authenticates the person and
passes the name in the header `SSO_HEADER` (a `request.META` key such as `HTTP_REMOTE_USER` for a
`Remote-User:` header). Django's RemoteUser machinery keeps the session; this backend decides which
account a name may enter — and that is never an account someone else made:

- a name seen for the first time gets a new account (no password, no staff rights) with an
  `AccountLink` of origin "sso";
- an existing account is entered only when SSO created it, or when it is linked to the very PBX
  user the name resolves to (the myApps admin app links its accounts so);
- never a staff member or a superuser, unless `SSO_ALLOW_STAFF` says so.

The signed-in name is then matched to a PBX user by the user page like any other username.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import PersistentRemoteUserMiddleware
from django.db import IntegrityError, transaction

from presence.identity import IdentityError, resolve_user
from presence.models import AccountLink

log = logging.getLogger("presence.sso")


class ProxyHeaderSSOMiddleware(PersistentRemoteUserMiddleware):
    """Signs the proxy's user in; keeps the session when a request comes without the header.

    Persistent, because the session (not the header) is what authenticates the websocket
    (`/ws/presence/`), and because a proxy may protect only part of the site.

    Sync only, on purpose: Django 5.2's async path reads `META["HTTP_" + header]` while the sync path
    reads `META[header]` (Django tickets #36300/#37079), so under daphne a `HTTP_…` setting would
    never match and SSO would silently do nothing. Declared sync-only, Django runs the same
    `process_request` under WSGI and ASGI, and `SSO_HEADER` means one thing everywhere.
    """

    async_capable = False  # type: ignore[assignment]  # deliberately sync-only (see above)

    @property
    def header(self) -> str:  # type: ignore[override]
        return settings.SSO_HEADER


def pbx_guid_for(username: str) -> str:
    """The GUID of the PBX user `username` names (identity matching), or "" when none or several."""
    try:
        return resolve_user(username).user.guid  # strips the domain where the admin allows it
    except IdentityError:
        return ""


class ProxyHeaderSSOBackend(RemoteUserBackend):
    """Trusts the name the middleware took from the proxy's header, for the accounts it may enter.

    The name is kept as the proxy sends it (`CORP\\alice`, `alice@corp.example`): identity matching,
    not this backend, decides which PBX user that is.
    """

    create_unknown_user = True

    def clean_username(self, username: str) -> str:
        """The proxy's name as text, or "" when it cannot be an account name.

        Servers hand header values to Django decoded as latin-1; proxies send names as UTF-8, so
        `jürgen` arrives as `jÃ¼rgen` and is decoded again here. A name that is not UTF-8, holds
        control characters or is longer than the username field is refused, not cut: two names
        cut to the same prefix would share an account.
        """
        try:
            name = username.encode("latin-1").decode("utf-8").strip()
        except (UnicodeEncodeError, UnicodeDecodeError):
            return ""
        limit = getattr(get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD), "max_length", None)
        if not name.isprintable() or (limit and len(name) > limit):
            return ""
        return name

    def authenticate(self, request, remote_user):  # type: ignore[override]  # RemoteUserBackend's own signature
        if not remote_user:
            return None
        username = self.clean_username(remote_user)
        if not username:
            log.warning("SSO refused: the proxy's name %r cannot be an account name", remote_user[:200])
            return None
        user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            user = self.create_account(username)
        elif not self.may_enter(user, username):
            return None
        return user if self.user_can_authenticate(user) else None

    def create_account(self, username: str):
        """A new account for a name seen for the first time: no usable password, no rights, linked."""
        model = get_user_model()
        try:
            with transaction.atomic():
                user = model._default_manager.create(**{model.USERNAME_FIELD: username})
                # No password form or reset can ever sign in as this proxy-vouched name.
                user.set_unusable_password()
                user.save(update_fields=["password"])
                AccountLink.objects.create(user=user, origin=AccountLink.Origin.SSO, pbx_guid=pbx_guid_for(username))
        except IntegrityError:  # a parallel first request created it: enter that one if allowed
            user = model._default_manager.get(**{model.USERNAME_FIELD: username})
            return user if self.may_enter(user, username) else None
        return user

    def may_enter(self, user, username: str) -> bool:
        link = AccountLink.objects.filter(user=user).first()
        if link is None:
            log.warning("SSO refused for %r: the account was not created by SSO and is linked to no PBX user", username)
            return False
        if link.origin != AccountLink.Origin.SSO and (not link.pbx_guid or link.pbx_guid != pbx_guid_for(username)):
            log.warning("SSO refused for %r: the account is linked to another PBX user", username)
            return False
        if (user.is_staff or user.is_superuser) and not settings.SSO_ALLOW_STAFF:
            log.warning("SSO refused for %r: staff and superusers sign in with a password (SSO_ALLOW_STAFF)", username)
            return False
        if link.origin == AccountLink.Origin.SSO and not link.pbx_guid:
            AccountLink.objects.filter(pk=link.pk).update(pbx_guid=pbx_guid_for(username))  # matched since
        return True


def not_a_password_sign_in(request, credentials) -> bool:
    """django-axes' whitelist: a sign-in vouched for by the proxy is no password guess to count or lock."""
    return bool(credentials and credentials.get("remote_user"))
