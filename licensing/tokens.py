"""Licence keys: one copy-pasteable line, signed with Ed25519.

Format: ``PHL1.<base64url(payload JSON)>.<base64url(signature)>``. The signature covers the bytes
``PHL1.<payload part>`` exactly as sent, so neither the version prefix nor the payload can be
changed without the signature failing. No Django models here: this module is the issuer's and the
verifier's shared knowledge of the format, and is tested on its own.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "PHL1"
SIGNATURE_LEN = 64
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_WHITESPACE = re.compile(r"\s+")


class InvalidLicence(Exception):
    """A licence key that may not be entered; `code` for programs, the message for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class UnreadableKey(Exception):
    """A public or private key that cannot be read (configuration problem, not a licence problem)."""


@dataclass(frozen=True)
class LicenceTerms:
    """What a licence key says. Dates are inclusive: valid from the start of `valid_from` to the
    end of `valid_until`, in the installation's time zone."""

    customer: str
    instance: str
    seats: int
    valid_from: dt.date
    valid_until: dt.date
    issued_at: dt.datetime
    serial: int
    demo: bool = False

    def to_payload(self) -> dict:
        return {
            "customer": self.customer,
            "instance": self.instance,
            "seats": self.seats,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "issued_at": self.issued_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "serial": self.serial,
            "demo": self.demo,
        }

    @classmethod
    def from_payload(cls, data: object) -> LicenceTerms:
        """Parse a decoded payload; any missing or mistyped field is a malformed key."""
        if not isinstance(data, dict):
            raise ValueError("payload is not an object")
        seats, serial = data["seats"], data["serial"]
        if not isinstance(seats, int) or isinstance(seats, bool) or seats < 0:
            raise ValueError("seats is not a non-negative integer")
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise ValueError("serial is not an integer")
        customer, instance = data["customer"], data["instance"]
        if not isinstance(customer, str) or not isinstance(instance, str):
            raise ValueError("customer and instance must be text")
        issued_at = dt.datetime.fromisoformat(data["issued_at"].replace("Z", "+00:00"))
        if issued_at.tzinfo is None:
            raise ValueError("issued_at has no time zone")
        return cls(
            customer=customer,
            instance=instance,
            seats=seats,
            valid_from=dt.date.fromisoformat(data["valid_from"]),
            valid_until=dt.date.fromisoformat(data["valid_until"]),
            issued_at=issued_at,
            serial=serial,
            demo=bool(data.get("demo", False)),
        )


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # urlsafe_b64decode silently skips characters outside the alphabet: check them first.
    if not _B64URL.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(terms: LicenceTerms, private_key: Ed25519PrivateKey) -> str:
    """The licence key for `terms`, signed with the issuer's private key."""
    payload = json.dumps(terms.to_payload(), separators=(",", ":"), sort_keys=True).encode()
    signed = f"{PREFIX}.{_b64encode(payload)}"
    return f"{signed}.{_b64encode(private_key.sign(signed.encode('ascii')))}"


def parse(token: str) -> tuple[str, bytes, LicenceTerms]:
    """Split and decode a key without checking the signature: (signed part, signature, terms)."""
    token = _WHITESPACE.sub("", token or "")  # mail clients and terminals wrap long lines
    damaged = InvalidLicence(
        "malformed",
        "This is not a complete licence key: it is damaged or was cut off when it was copied. "
        f"A licence key is one line starting with {PREFIX}. — copy the whole line again.",
    )
    if not token:
        raise InvalidLicence("malformed", "No licence key was entered.")
    parts = token.split(".")
    if parts[0] != PREFIX:
        raise InvalidLicence(
            "malformed", f"This is not a Presence Heartbeat licence key: a licence key starts with {PREFIX}."
        )
    if len(parts) != 3:
        raise damaged
    try:
        payload = _b64decode(parts[1])
        signature = _b64decode(parts[2])
        terms = LicenceTerms.from_payload(json.loads(payload))
    # RecursionError: JSON nested deeper than Python parses (the payload is read before the signature is checked).
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise damaged from None
    if len(signature) != SIGNATURE_LEN:
        raise damaged
    return f"{parts[0]}.{parts[1]}", signature, terms


def verify(
    token: str,
    public_key: Ed25519PublicKey,
    *,
    instance_id: str,
    today: dt.date | None,
) -> LicenceTerms:
    """The terms of a licence key that this installation may enter now; InvalidLicence otherwise.

    The order of the checks is the order of the questions an administrator asks: is it a key at
    all, is it genuine, is it ours, is it valid today. With `today=None` the dates are not checked
    (the installation re-checks a stored key's signature and decides about dates itself).
    """
    signed, signature, terms = parse(token)
    try:
        public_key.verify(signature, signed.encode("ascii"))
    except InvalidSignature:
        raise InvalidLicence(
            "bad_signature",
            "This licence key is not signed by the licence issuer this installation trusts: it was "
            "altered, or it was issued for another product or with another key.",
        ) from None
    if terms.instance != instance_id:
        raise InvalidLicence(
            "other_instance",
            f"This licence key is for the installation {terms.instance}, but this installation is "
            f"{instance_id}. Order a key for {instance_id}.",
        )
    if today is not None:
        if terms.valid_until < today:
            raise InvalidLicence(
                "expired", f"This licence key expired on {terms.valid_until.isoformat()}: order a new key."
            )
        if terms.valid_from > today:
            raise InvalidLicence(
                "not_yet_valid",
                f"This licence key is valid only from {terms.valid_from.isoformat()}: enter it on or after that day.",
            )
    return terms


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 (the raw 32 bytes) or PEM (SubjectPublicKeyInfo)."""
    text = (text or "").strip()
    if not text:
        raise UnreadableKey("The public key is empty.")
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise UnreadableKey(f"The PEM public key cannot be read ({exc}).") from None
        if not isinstance(key, Ed25519PublicKey):
            raise UnreadableKey("The PEM public key is not an Ed25519 key.")
        return key
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (ValueError, binascii.Error):
        raise UnreadableKey("The public key is neither PEM nor base64.") from None
    if len(raw) != 32:
        raise UnreadableKey(f"The base64 public key has {len(raw)} bytes; an Ed25519 public key has 32.")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """The issuer's private key from an unencrypted PKCS#8 PEM file."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise UnreadableKey(f"The private key cannot be read ({exc}).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UnreadableKey("The private key is not an Ed25519 key.")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_b64(key: Ed25519PublicKey) -> str:
    """The form LICENSE_PUBLIC_KEY takes: base64 of the raw 32 bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
