"""The AppWebsocket login digest (reference §2.2–2.3).

The PBX checks `AppLogin.digest` against a SHA-256 over the login fields, the single-use challenge
and the App object's password. The password itself never travels.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def compact_json(obj: Any) -> str:
    """JSON as JS `JSON.stringify` writes it: no whitespace, keys in insertion order, no needless escaping.

    The digest hashes `info` in exactly this form (reference §2.2), so `ensure_ascii` must be off:
    `"Zoë"` stays `"Zoë"`, not `"Zo\\u00eb"`.
    """
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def login_digest(
    *,
    app: str,
    password: str,
    challenge: str,
    domain: str = "",
    sip: str = "",
    guid: str = "",
    dn: str = "",
    info: dict | None = None,
) -> str:
    """Lower-case hex SHA-256 of `app:domain:sip:guid:dn[:info]:challenge:password`.

    `info=None` leaves the `:info` segment out entirely; an empty dict is *not* absent and is hashed
    as `{}` (reference §2.2 and §6 "Digest pitfalls").
    """
    parts = [app, domain, sip, guid, dn]
    if info is not None:
        parts.append(compact_json(info))
    parts += [challenge, password]
    return hashlib.sha256(":".join(parts).encode("utf-8")).hexdigest()


def session_key(*, challenge: str, password: str) -> str:
    """The session key official clients derive (reference §2.4); never sent, only for encrypt/hash helpers."""
    return hashlib.sha256(f"innovaphoneAppSessionKey:{challenge}:{password}".encode()).hexdigest()
