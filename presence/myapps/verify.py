"""An AppLogin's digest, checked as the PBX computed it (reference innovaphone-myapps-apps.md §2).

    sha256_hex("<app>:<domain>:<sip>:<guid>:<dn>:<info>:<challenge>:<password>")

with the `:<info>` segment left out when there is no info (`{}` is not "no info"). `info` is hashed
as compact JSON in the order received (`json.loads` keeps it; never sort), or — when a page sends
it as a string, like the HTTP variant of innovaphone's samples — as that string exactly.

Pure functions without Django, so that the official test vectors test exactly this code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from presence.pbx.digest import compact_json

SIGNED_FIELDS = ("app", "domain", "sip", "guid", "dn")
MAX_FIELD = 1024
MAX_INFO = 16 * 1024
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


class MalformedLogin(ValueError):
    """The AppLogin message is not shaped like one (a missing digest, a field that is not text…)."""


@dataclass(frozen=True)
class Login:
    """The signed fields of one AppLogin, `info` both as data and as the exact text that was hashed."""

    app: str
    domain: str
    sip: str
    guid: str
    dn: str
    info: dict | None
    info_text: str | None
    digest: str

    @property
    def app_object(self) -> str:
        """`info.appobj`: the App object whose password signed this login (signed, unlike `pbxObj`)."""
        value = (self.info or {}).get("appobj")
        return value if isinstance(value, str) else ""


def parse_login(message: dict[str, Any]) -> Login:
    """The AppLogin's signed fields, or MalformedLogin. Absent text fields are empty, as the PBX hashes them."""
    fields: dict[str, str] = {}
    for name in SIGNED_FIELDS:
        value = message.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise MalformedLogin(f"{name} must be text of at most {MAX_FIELD} characters")
        fields[name] = value
    info, info_text = _parse_info(message.get("info"))
    digest = message.get("digest")
    if not isinstance(digest, str) or not _HEX_DIGEST.match(digest):
        raise MalformedLogin("digest must be 64 hexadecimal digits")
    return Login(**fields, info=info, info_text=info_text, digest=digest.lower())


def _parse_info(raw: Any) -> tuple[dict | None, str | None]:
    # An absent info — or an empty string, as innovaphone's C++ sample treats it — drops the segment.
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, dict):
        text = compact_json(raw)
        info = raw
    elif isinstance(raw, str):
        text = raw
        try:
            info = json.loads(raw)
        except ValueError as exc:
            raise MalformedLogin("info is not JSON") from exc
        if not isinstance(info, dict):
            raise MalformedLogin("info must be a JSON object")
    else:
        raise MalformedLogin("info must be a JSON object")
    if len(text) > MAX_INFO:
        raise MalformedLogin(f"info is longer than {MAX_INFO} characters")
    return info, text


def digest_input(login: Login, challenge: str, password: str) -> str:
    """The text the PBX hashed: the signed fields, info if any, the challenge and the password."""
    parts = [login.app, login.domain, login.sip, login.guid, login.dn]
    if login.info_text is not None:
        parts.append(login.info_text)
    parts += [challenge, password]
    return ":".join(parts)


def expected_digest(login: Login, challenge: str, password: str) -> str:
    return hashlib.sha256(digest_input(login, challenge, password).encode("utf-8")).hexdigest()


def digest_matches(login: Login, challenge: str, password: str) -> bool:
    """Whether the PBX signed this login over our challenge with this password (constant-time compare)."""
    return hmac.compare_digest(expected_digest(login, challenge, password), login.digest)
