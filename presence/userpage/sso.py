"""Single sign-on through a trusted reverse proxy (Kerberos/NTLM on a Windows domain, or any SSO proxy).

Installed by settings only when `SSO_HEADER_ENABLED` is on; the proxy authenticates the person and
passes the name in the header `SSO_HEADER` (a `request.META` key such as `HTTP_REMOTE_USER` for a
`Remote-User:` header). Everything else — signing in, creating the account on first visit, keeping
the session — is Django's own RemoteUser machinery; the signed-in name is then matched to a PBX user
by the user page like any other username.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import PersistentRemoteUserMiddleware


class ProxyHeaderSSOMiddleware(PersistentRemoteUserMiddleware):
    """Signs the proxy's user in; keeps the session when a request comes without the header.

    Persistent, because the session (not the header) is what authenticates the websocket
    (`/ws/presence/`), and because a proxy may protect only part of the site.

    Sync only, on purpose: Django 5.2's async path reads `META["HTTP_" + header]` while the sync path
    reads `META[header]` (Django tickets #36300/#37079), so under daphne a `HTTP_…` setting would
    never match and SSO would silently do nothing. Declared sync-only, Django runs the same
    `process_request` under WSGI and ASGI, and `SSO_HEADER` means one thing everywhere.
    """

    async_capable = False

    @property
    def header(self) -> str:  # type: ignore[override]
        return settings.SSO_HEADER


class ProxyHeaderSSOBackend(RemoteUserBackend):
    """Trusts the name the middleware took from the proxy's header; creates the account on first visit.

    The account gets no usable password and no staff rights: it can see its own user page and
    nothing else. The name is kept as the proxy sends it (`CORP\\alice`, `alice@corp.example`):
    identity matching, not this backend, decides which PBX user that is.
    """

    create_unknown_user = True

    def configure_user(self, request, user, created=True):
        # Django leaves the new account's password blank; say explicitly that it has none, so the
        # admin shows it and no password form or reset can ever sign in as this proxy-vouched name.
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user
