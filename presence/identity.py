"""Identity matching: which PBX user does `alice`, `CORP\\alice` or `alice@corp.example` mean?

Stages, in order: login name (h323), e-mail, number, and — where the admin allows it — the login
name with the domain part stripped. The first stage that matches anyone decides; two users in that
stage is an ambiguity, reported, never guessed. One query whatever the directory's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from presence.models import PbxUser, PbxUserEmail

STAGES = ("login name", "e-mail", "number", "login name without domain")


class IdentityError(Exception):
    code = "identity"


class UnknownUser(IdentityError):
    code = "unknown_user"


class AmbiguousUser(IdentityError):
    code = "ambiguous_user"

    def __init__(self, message: str, candidates: list[PbxUser]):
        super().__init__(message)
        self.candidates = candidates


@dataclass(frozen=True)
class Match:
    user: PbxUser
    stage: str


def strip_domain(value: str) -> str:
    r"""`CORP\alice` → `alice`, `alice@corp.example` → `alice`, `alice` → `alice`."""
    if "\\" in value:
        value = value.rsplit("\\", 1)[1]
    if "@" in value:
        value = value.split("@", 1)[0]
    return value


def _stage_of(user: PbxUser, key: str, stripped: str | None) -> int | None:
    if user.h323_key == key:
        return 0
    if key in {e.lower() for e in user.emails}:
        return 1
    if user.e164_key and user.e164_key == key:
        return 2
    if stripped and user.h323_key == stripped:
        return 3
    return None


def resolve_user(value: str, *, strip: bool = True) -> Match:
    """The one active PBX user that `value` names; raises UnknownUser or AmbiguousUser."""
    key = value.strip().lower()
    if not key:
        raise UnknownUser("The user value is empty.")
    stripped = strip_domain(key) if strip else None
    if stripped == key or not stripped:
        stripped = None
    logins = [key, stripped] if stripped else [key]
    # A UNION of two index lookups: one OR across the e-mail subquery made PostgreSQL scan the table.
    direct = PbxUser.objects.filter(Q(h323_key__in=logins) | Q(e164_key=key), active=True).order_by()
    by_email = PbxUser.objects.filter(
        pk__in=PbxUserEmail.objects.filter(email=key).values("user_id"), active=True
    ).order_by()
    candidates = list(direct.union(by_email)[:20])
    by_stage: dict[int, list[PbxUser]] = {}
    for user in candidates:
        stage = _stage_of(user, key, stripped)
        if stage is not None:
            by_stage.setdefault(stage, []).append(user)
    if not by_stage:
        raise UnknownUser(f"No PBX user matches {value!r} by login name, e-mail or number.")
    stage = min(by_stage)
    users = by_stage[stage]
    if len(users) > 1:
        names = ", ".join(sorted(u.h323 or u.guid for u in users))
        raise AmbiguousUser(f"{value!r} matches several PBX users by {STAGES[stage]}: {names}.", users)
    return Match(users[0], STAGES[stage])
