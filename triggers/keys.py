"""API key format and hashing.

A key is `phk_<prefix>_<secret>`: the 8-character prefix finds the row by index, the secret is
checked against a peppered HMAC-SHA256 in constant time. The pepper (API_KEY_PEPPER) lives outside
the database, so a stolen database alone does not let anyone test guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from django.conf import settings

PREFIX_LEN = 8
KEY_RE = re.compile(r"^phk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_ALPHABET = string.ascii_letters + string.digits


def new_key() -> tuple[str, str, str]:
    """Returns (clear key, prefix, hash)."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LEN))
    clear = f"phk_{prefix}_{secrets.token_urlsafe(32)}"
    return clear, prefix, hash_key(clear)


def looks_like_key(value: str) -> bool:
    """Cheap shape check done before any query."""
    return bool(KEY_RE.match(value))


def prefix_of(value: str) -> str:
    match = KEY_RE.match(value)
    return match.group(1) if match else ""


def hash_key(clear: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), clear.encode(), hashlib.sha256).hexdigest()


def matches(clear: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(clear), stored_hash)
