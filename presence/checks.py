"""System checks for the PBX link's configuration (`manage.py check`)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_pbx_settings(app_configs, **kwargs) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.PBX_URL:
        url = urlparse(settings.PBX_URL)
        if url.scheme not in ("ws", "wss") or not url.netloc:
            problems.append(
                Error(
                    f"PBX_URL={settings.PBX_URL!r} must be a ws:// or wss:// URL.",
                    hint="e.g. wss://pbx.example.com/PBX0/APPS/websocket",
                    id="presence.E001",
                )
            )
        if not settings.PBX_PASSWORD:
            problems.append(
                Error(
                    "PBX_URL is set but PBX_PASSWORD is empty.",
                    hint="Set PBX_PASSWORD (or PBX_PASSWORD_FILE) to the App object's password.",
                    id="presence.E002",
                )
            )
        if not settings.PBX_APP:
            problems.append(Error("PBX_APP is empty.", hint="The App object's Name on the PBX.", id="presence.E003"))
        if url.scheme == "ws" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            problems.append(
                Warning(
                    "PBX_URL uses ws:// (no TLS) to a remote PBX.",
                    hint="Use wss://; the login digest is safe but presence data is not.",
                    id="presence.W001",
                )
            )
        if url.scheme == "wss" and not settings.PBX_TLS_VERIFY:
            problems.append(
                Warning(
                    "PBX_TLS_VERIFY is off: the PBX's certificate is not checked.",
                    hint="Use PBX_CA_FILE for a private CA instead.",
                    id="presence.W002",
                )
            )
    if settings.PBX_CA_FILE and not os.path.isfile(settings.PBX_CA_FILE):
        problems.append(Error(f"PBX_CA_FILE={settings.PBX_CA_FILE!r} does not exist.", id="presence.E004"))
    if settings.PBX_CONTACT not in ("tel:", "im:", "calendar:") and not settings.PBX_CONTACT.endswith(":"):
        problems.append(
            Error(
                f"PBX_CONTACT={settings.PBX_CONTACT!r} is not a presence contact.",
                hint='Use "tel:".',
                id="presence.E005",
            )
        )
    return problems
