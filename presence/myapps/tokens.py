"""Single-use values of the myApps sign-in, kept in the cache so that every process sees them.

- **Challenges** we hand out on `AppChallenge`: random, 16 digits like a PBX's, valid for
  CHALLENGE_TTL seconds and taken (deleted) by the AppLogin that answers them, so each signs one login.
- **Used logins**: the digest of every login we accepted, for a while. A login is only ever valid for
  its own challenge, so a replay fails anyway; the mark lets us say *why* ("already used").
- **Admin sign-in tickets**: what the admin app's websocket gives the page after a good AppLogin, to
  carry the sign-in into an HTTP request that can set the session cookie. Stored under a hash of the
  ticket, so that whoever reads the cache (Redis) cannot use one.

Taking a value is `cache.delete`, which reports whether the key was there: atomic on Redis and on
the local-memory cache, so two requests racing for one value cannot both win. A cache that fails
raises TokenStoreUnavailable: the sign-in is refused, never let through.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.cache import cache

CHALLENGE_TTL = 120
USED_LOGIN_TTL = 3600
TICKET_TTL = 60


class TokenStoreUnavailable(Exception):
    """The cache cannot be reached: no challenge can be issued or checked."""


def _key(kind: str, value: str) -> str:
    return f"myapps:{kind}:{value}"


def new_challenge() -> str:
    """A fresh challenge, registered as unused."""
    try:
        for _ in range(8):
            challenge = f"{secrets.randbelow(10**16):016d}"
            if cache.add(_key("challenge", challenge), 1, CHALLENGE_TTL):
                return challenge
    except Exception as exc:
        raise TokenStoreUnavailable from exc
    raise TokenStoreUnavailable("no unused challenge found")


def take_challenge(challenge: str) -> bool:
    """True once for a challenge we issued within CHALLENGE_TTL; False when expired, used or never ours."""
    try:
        return bool(cache.delete(_key("challenge", challenge)))
    except Exception as exc:
        raise TokenStoreUnavailable from exc


def login_was_used(digest: str) -> bool:
    try:
        return cache.get(_key("used", digest)) is not None
    except Exception as exc:
        raise TokenStoreUnavailable from exc


def mark_login_used(digest: str) -> None:
    try:
        cache.set(_key("used", digest), 1, USED_LOGIN_TTL)
    except Exception as exc:
        raise TokenStoreUnavailable from exc


def _ticket_key(ticket: str) -> str:
    return _key("ticket", hashlib.sha256(ticket.encode()).hexdigest())


def new_ticket(data: dict[str, Any]) -> str:
    ticket = secrets.token_urlsafe(32)
    try:
        cache.set(_ticket_key(ticket), data, TICKET_TTL)
    except Exception as exc:
        raise TokenStoreUnavailable from exc
    return ticket


def take_ticket(ticket: str) -> dict[str, Any] | None:
    """The ticket's data, once; None when it is unknown, expired or already taken."""
    if not ticket or len(ticket) > 200:
        return None
    key = _ticket_key(ticket)
    try:
        data = cache.get(key)
        if data is None or not cache.delete(key):
            return None
    except Exception as exc:
        raise TokenStoreUnavailable from exc
    return data
