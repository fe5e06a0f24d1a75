"""Identity matching: which PBX user does `alice`, `CORP\\alice` or `alice@corp.example` mean?

Stages, in order: login name (h323), e-mail, number, and — where the admin allows it — the login
name with the domain part stripped. The first stage that matches anyone decides; two users in that
stage is an ambiguity, reported, never guessed. One query whatever the directory's size.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# Written out once: a UNION of two index lookups (an OR across the e-mail table made PostgreSQL scan
# the directory), and building it with the ORM on every trigger cost more CPU than running it.
_USERS = PbxUser._meta.db_table
_EMAILS = PbxUserEmail._meta.db_table
_CANDIDATES_SQL = (
    f"SELECT * FROM {_USERS} WHERE active = %s AND (h323_key IN (%s, %s) OR e164_key = %s) "  # noqa: S608
    f"UNION SELECT u.* FROM {_USERS} u JOIN {_EMAILS} e ON e.user_id = u.id WHERE u.active = %s AND e.email = %s "
    "LIMIT 20"
)


def resolve_user(value: str, *, strip: bool = True) -> Match:
    """The one active PBX user that `value` names; raises UnknownUser or AmbiguousUser."""
    key = value.strip().lower()
    if not key:
        raise UnknownUser("The user value is empty.")
    stripped = strip_domain(key) if strip else None
    if stripped == key or not stripped:
        stripped = None
    logins = [key, stripped or key]
    candidates = list(PbxUser.objects.raw(_CANDIDATES_SQL, [True, *logins, key, True, key]))
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
