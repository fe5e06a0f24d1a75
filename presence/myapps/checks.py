"""System checks for the myApps apps' configuration (`manage.py check`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register

from presence.myapps.config import is_embedded_default

_ORIGIN = re.compile(r"^(https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?|'self')$")


@register()
def check_myapps_settings(app_configs, **kwargs):
    problems = []
    if settings.MYAPPS_ADMIN_PASSWORD and urlsplit(settings.PUBLIC_URL).scheme != "https" and not is_embedded_default():
        problems.append(
            Error(
                f"The myApps admin app is on (MYAPPS_ADMIN_PASSWORD is set) but PUBLIC_URL={settings.PUBLIC_URL!r} "
                "is not https: inside myApps' frame its session cookie must be SameSite=None; Secure, which "
                "browsers keep only over https, and it would cross the network in clear.",
                hint="Serve the service over https and set PUBLIC_URL=https://…, or leave MYAPPS_ADMIN_PASSWORD "
                "empty to switch the admin app off. (Plain http is accepted only for the embedded default on "
                "127.0.0.1 without PBX_URL, for the preview.)",
                id="presence.E010",
            )
        )
    for name in ("MYAPPS_USER_APP", "MYAPPS_ADMIN_APP"):
        if not getattr(settings, name):
            problems.append(Error(f"{name} is empty.", hint="The App object's Name on the PBX.", id="presence.E011"))
    if settings.MYAPPS_USER_APP and settings.MYAPPS_USER_APP == settings.MYAPPS_ADMIN_APP:
        problems.append(
            Error(
                f"MYAPPS_USER_APP and MYAPPS_ADMIN_APP are both {settings.MYAPPS_USER_APP!r}.",
                hint="The user app and the admin app are two App objects with two Names.",
                id="presence.E012",
            )
        )
    for origin in settings.MYAPPS_FRAME_ANCESTORS or []:
        if not _ORIGIN.match(origin):
            problems.append(
                Error(
                    f"MYAPPS_FRAME_ANCESTORS: {origin!r} is not an origin.",
                    hint="Origins only, comma-separated: scheme://host[:port], e.g. https://pbx.example.com "
                    "(no path, no trailing slash).",
                    id="presence.E013",
                )
            )
    return problems
