"""The Django admin account a PBX user is signed into by the myApps admin app.

The PBX vouches for a PBX user, not for a Django account: the admin app only ever signs into an
account linked to that PBX user by an `AccountLink` of origin "myapps-admin" — one it created on
the first visit. A superuser, an account made by hand or one linked to somebody else is never
chosen, whatever its name. The account has no password (nobody can sign in with one), is staff,
and gets its rights from the "Presence administrators" group only.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from presence.models import AccountLink, PbxUser

GROUP_NAME = "Presence administrators"
# What the group may do: presets, rules, API keys, the licence and the licence switches (which live
# in the PBX users list, hence viewing PBX users). The data migration 0005 creates the group with
# the same list; this copy re-creates it where a test database was flushed.
GROUP_PERMISSIONS = [
    *(
        ("presence", f"{action}_{model}")
        for model in ("preset", "eventrule", "overriderule")
        for action in ("add", "change", "delete", "view")
    ),
    ("presence", "view_pbxuser"),
    *(("triggers", f"{action}_apikey") for action in ("add", "change", "delete", "view")),
    ("licensing", "view_licence"),
    ("licensing", "activate_licence"),
    ("licensing", "view_seat"),
    ("licensing", "change_seat"),
]
ORIGIN = AccountLink.Origin.MYAPPS_ADMIN

REFUSALS = {
    "superuser": _(
        "The account linked to your PBX user is a superuser: the admin app never signs into one. "
        "Use the admin's own sign-in."
    ),
    "inactive": _("The admin account linked to your PBX user is switched off."),
}


class AccountRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def detail(self) -> str:
        return str(REFUSALS[self.code])


def administrators_group() -> Group:
    """The group, created with its permissions if it is missing (an administrator may change it later)."""
    group, created = Group.objects.get_or_create(name=GROUP_NAME)
    if created:
        permissions = [Permission.objects.get(content_type__app_label=a, codename=c) for a, c in GROUP_PERMISSIONS]
        group.permissions.set(permissions)
    return group


def linked_account(pbx_user: PbxUser) -> User | None:
    link = (
        AccountLink.objects.select_related("user").filter(origin=ORIGIN, pbx_guid=pbx_user.guid).order_by("pk").first()
    )
    return link.user if link else None


def admin_account(pbx_user: PbxUser) -> User:
    """The linked account (created on first use), staff and in the group; AccountRefused when it may not be used."""
    with transaction.atomic():
        account = linked_account(pbx_user)
        if account is None:
            account = _create_account(pbx_user)
        if account.is_superuser:
            raise AccountRefused("superuser")
        if not account.is_active:
            raise AccountRefused("inactive")
        if not account.is_staff:
            account.is_staff = True
            account.save(update_fields=["is_staff"])
        account.groups.add(administrators_group())
    return account


def _create_account(pbx_user: PbxUser) -> User:
    users = User  # Django's own user model: the admin app's accounts are plain staff accounts
    base = "myapps." + (re.sub(r"[^\w.@+-]", "-", pbx_user.h323 or pbx_user.guid)[:120] or pbx_user.guid)
    username, n = base, 1
    # A name taken by any other account — a hand-made one included — is never reused: add a number.
    while users.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}.{n}"
    account = users(
        username=username,
        first_name=(pbx_user.dn or pbx_user.cn)[:150],
        email=(pbx_user.emails[0] if pbx_user.emails else "")[:254],
        is_staff=True,
        is_superuser=False,
    )
    account.set_unusable_password()
    account.save()
    AccountLink.objects.create(user=account, pbx_guid=pbx_user.guid, origin=ORIGIN)
    return account


def session_account_is_linked(account: User, pbx_guid: str | None) -> bool:
    """Whether a framed admin session still belongs to the PBX user it was opened for."""
    if not pbx_guid or account.is_superuser:
        return False
    return AccountLink.objects.filter(user=account, origin=ORIGIN, pbx_guid=pbx_guid).exists()
