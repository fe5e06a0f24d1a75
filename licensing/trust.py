"""Which public key this installation trusts for licence keys, and the local demo key pair.

With `LICENSE_PUBLIC_KEY` set, that key and only that key is trusted. Without it (the embedded
default), the public half of a demo key pair generated on this machine is trusted; its private
half lives in VAR_DIR (mode 600) and never in the database, so a database copied elsewhere does
not carry the means to mint licences.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from licensing import tokens

DEMO_KEY_FILE = "licence-demo-key.pem"


class NoTrustedKey(Exception):
    """No licence key can be verified here: the configured key is unreadable, or there is none."""


def uses_demo_key() -> bool:
    return not (settings.LICENSE_PUBLIC_KEY or "").strip()


def demo_key_path() -> Path:
    return Path(settings.VAR_DIR) / DEMO_KEY_FILE


def trusted_public_key() -> Ed25519PublicKey:
    """The key that licence keys must be signed with; NoTrustedKey with how to fix it otherwise."""
    if not uses_demo_key():
        try:
            return tokens.load_public_key(settings.LICENSE_PUBLIC_KEY)
        except tokens.UnreadableKey as exc:
            raise NoTrustedKey(f"LICENSE_PUBLIC_KEY cannot be used: {exc}") from None
    path = demo_key_path()
    try:
        return tokens.load_private_key(path.read_bytes()).public_key()
    except FileNotFoundError:
        raise NoTrustedKey(
            "LICENSE_PUBLIC_KEY is not set and there is no local demo key: set LICENSE_PUBLIC_KEY to the "
            "licence issuer's public key, or run `manage.py license demo` for a demo licence."
        ) from None
    except (OSError, tokens.UnreadableKey) as exc:
        raise NoTrustedKey(f"The demo key {path} cannot be read: {exc}") from None


def ensure_demo_private_key() -> tuple[Ed25519PrivateKey, bool]:
    """The demo private key, generated on first use; (key, created)."""
    path = demo_key_path()
    if path.exists():
        return tokens.load_private_key(path.read_bytes()), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    # Written to a private temporary file (mode 600 from the start, never readable by others) and
    # then hard-linked into place: link() fails if the name exists, so two processes starting at
    # once cannot both install a key, and nobody ever reads a half-written one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(tokens.private_pem(key))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return tokens.load_private_key(path.read_bytes()), False
    finally:
        tmp.unlink(missing_ok=True)
    return key, True
