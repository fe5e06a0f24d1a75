"""System checks for the licensing configuration (`manage.py check`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from licensing import tokens


@register()
def check_licence_public_key(app_configs, **kwargs):
    """A LICENSE_PUBLIC_KEY that cannot be read would refuse every licence key: say so at start-up."""
    if not (settings.LICENSE_PUBLIC_KEY or "").strip():
        return []
    try:
        tokens.load_public_key(settings.LICENSE_PUBLIC_KEY)
    except tokens.UnreadableKey as exc:
        return [
            Error(
                f"LICENSE_PUBLIC_KEY cannot be used: {exc}",
                hint="Use the licence issuer's Ed25519 public key as base64 (32 raw bytes, e.g. from "
                "`manage.py licensekeys generate`) or as PEM (newlines may be written as \\n).",
                id="licensing.E001",
            )
        ]
    return []
