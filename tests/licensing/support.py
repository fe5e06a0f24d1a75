"""Licence keys for tests: the suite's own issuer key pair (made at import, once per session).

Nothing secret is committed: every run signs with a key pair it generated itself.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from licensing import tokens
from licensing.models import Installation, Licence

ISSUER_KEY = Ed25519PrivateKey.generate()
ISSUER_PUBLIC = tokens.public_b64(ISSUER_KEY.public_key())
PLENTY = 100_000


def terms(**overrides) -> tokens.LicenceTerms:
    """Terms for this installation, valid from yesterday for a year, with plenty of seats."""
    today = timezone.localdate()
    base = tokens.LicenceTerms(
        customer="Test Customer",
        instance=overrides.pop("instance", None) or Installation.current().instance_id,
        seats=PLENTY,
        valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=365),
        issued_at=timezone.now().replace(microsecond=0),
        serial=1,
    )
    return dataclasses.replace(base, **overrides)


def make_token(key: Ed25519PrivateKey = ISSUER_KEY, **overrides) -> str:
    return tokens.issue(terms(**overrides), key)


def install_licence(settings, *, check: bool = True, **overrides) -> Licence:
    """Make a licence active. `check=False` stores it as it is (e.g. already expired), bypassing
    the entry checks, the way a licence that was valid when entered looks after its last day."""
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    overrides.setdefault("issued_at", timezone.now().replace(microsecond=0))
    overrides.setdefault("serial", Licence.objects.count() + 1)
    token = make_token(**overrides)
    if check:
        return Licence.enter(token)
    from licensing.state import invalidate

    licence = Licence.store(token, tokens.parse(token)[2])
    invalidate()
    return licence


def deeply_nested_token() -> str:
    """A licence key whose payload is JSON nested 5,000 levels deep (unsigned: parsing comes first)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    return f"PHL1.{b64(b'[' * 5000 + b']' * 5000)}.{b64(bytes(64))}"
