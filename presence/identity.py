"""Identity matching: which PBX user does `alice`, `CORP\\alice` or `alice@corp.example` mean?

Stages, in order: login name (h323), e-mail, number, and — where the admin allows it — the login
name with the domain part stripped. The first stage that matches anyone decides; two users in that
stage is an ambiguity, reported, never guessed. One query whatever the directory's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from licensing.state import seated_sql
from presence.models import PbxUser, PbxUserEmail, ServiceSettings

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
    user: PbxUser  # id, guid, h323, cn and the match keys loaded; other fields load when read
    stage: str
    licensed: bool  # the user's licence switch was on when matched


def strip_domain(value: str) -> str:
    r"""`CORP\alice` → `alice`, `alice@corp.example` → `alice`, `alice` → `alice`."""
    if "\\" in value:
        value = value.rsplit("\\", 1)[1]
    if "@" in value:
        value = value.split("@", 1)[0]
    return value


# Written out once: a UNION of index lookups (an OR across the e-mail table made PostgreSQL scan the
# directory), and only the columns matching needs. Only the looked-up values are parameters, so the
# plan PostgreSQL caches for the prepared statement is the same index lookup for every value.
# RawQuerySet and the ORM cost more CPU than the query on every trigger; the rows become (deferred)
# PbxUser objects through the documented from_db.
_USERS = PbxUser._meta.db_table
_EMAILS = PbxUserEmail._meta.db_table
# In the model's field order, as from_db() takes the loaded values in that order.
_LOADED = {"id", "guid", "h323", "cn", "h323_key", "e164_key"}
_COLUMNS = [f.attname for f in PbxUser._meta.concrete_fields if f.attname in _LOADED]
_H323_KEY, _E164_KEY = _COLUMNS.index("h323_key"), _COLUMNS.index("e164_key")
# Whether the user's licence switch is on comes along: the trigger API asks it next, and one round
# trip fewer per trigger is worth knowing the licensing app's table name here.
_CANDIDATES_SQL = (
    f"SELECT {', '.join(_COLUMNS)}, {seated_sql('guid')}, 0 FROM {_USERS} "  # noqa: S608
    "WHERE active = TRUE AND (h323_key IN (%s, %s) OR e164_key = %s) "
    f"UNION ALL SELECT {', '.join('u.' + c for c in _COLUMNS)}, {seated_sql('u.guid')}, 1 FROM {_USERS} u "
    f"JOIN {_EMAILS} e ON e.user_id = u.id WHERE u.active = TRUE AND e.email = %s "
    "LIMIT 40"
)


def _stage_of(row: tuple, key: str, stripped: str | None) -> int | None:
    h323_key, e164_key, via_email = row[_H323_KEY], row[_E164_KEY], row[-1]
    if h323_key == key:
        return 0
    if via_email:
        return 1
    if e164_key and e164_key == key:
        return 2
    if stripped and h323_key == stripped:
        return 3
    return None


def resolve_user(value: str, *, strip: bool | None = None) -> Match:
    """The one active PBX user that `value` names; raises UnknownUser or AmbiguousUser.

    `strip`: try the login name without its domain (default: the admin's setting `strip_domain`).
    """
    if strip is None:
        strip = ServiceSettings.current().strip_domain
    key = value.strip().lower()
    if not key:
        raise UnknownUser("The user value is empty.")
    stripped = strip_domain(key) if strip else None
    if stripped == key or not stripped:
        stripped = None
    logins = [key, stripped or key]
    with connection.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL, [*logins, key, key])
        rows = cursor.fetchall()
    best: dict[int, tuple[int, tuple]] = {}  # user id → (stage, row): a user found twice counts once
    for row in rows:
        stage = _stage_of(row, key, stripped)
        if stage is not None and (row[0] not in best or stage < best[row[0]][0]):
            best[row[0]] = (stage, row)
    by_stage: dict[int, list[PbxUser]] = {}
    seated: dict[int, bool] = {}
    for stage, row in best.values():
        by_stage.setdefault(stage, []).append(PbxUser.from_db(connection.alias, _COLUMNS, row[: len(_COLUMNS)]))
        seated[row[0]] = bool(row[-2])  # the EXISTS column
    if not by_stage:
        raise UnknownUser(f"No PBX user matches {value!r} by login name, e-mail or number.")
    stage = min(by_stage)
    users = by_stage[stage]
    if len(users) > 1:
        names = ", ".join(sorted(u.h323 or u.guid for u in users))
        raise AmbiguousUser(f"{value!r} matches several PBX users by {STAGES[stage]}: {names}.", users)
    return Match(users[0], STAGES[stage], seated[users[0].pk])
