"""System checks for the trigger API's configuration (`manage.py check`)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from rest_framework.settings import api_settings

from heartbeat_site.helpers.public_url import EXAMPLE as PUBLIC_URL_EXAMPLE
from heartbeat_site.helpers.public_url import check_public_url
from triggers.throttles import parse_rate


@register()
def check_trigger_settings(app_configs, **kwargs) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    throttle_rates = api_settings.DEFAULT_THROTTLE_RATES
    rates = {
        "TRIGGER_RATE_PER_KEY": throttle_rates["trigger-key"],
        "TRIGGER_RATE_PER_USER": throttle_rates["trigger-user"],
        "USER_PAGE_PRESS_RATE": settings.USER_PAGE_PRESS_RATE,
    }
    for env_name, rate in rates.items():
        try:
            count, _ = parse_rate(rate)
            if count <= 0:
                raise ValueError
        except (ValueError, KeyError, IndexError):
            problems.append(
                Error(
                    f"{env_name}={rate!r} is not a rate.", hint="Use N/s, N/min, N/hour or N/day.", id="triggers.E001"
                )
            )
    url = urlparse(settings.PUBLIC_URL)
    try:
        check_public_url(settings.PUBLIC_URL)
    except ValueError as exc:
        problems.append(
            Error(
                f"PUBLIC_URL={settings.PUBLIC_URL!r} cannot be used: {exc}.",
                hint=f"Set PUBLIC_URL to the address computers use, e.g. {PUBLIC_URL_EXAMPLE}.",
                id="triggers.E002",
            )
        )
    else:
        if url.scheme == "http" and not settings.DEBUG and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            problems.append(
                Warning(
                    "PUBLIC_URL uses plain http: API keys would cross the network in clear.",
                    hint="Terminate TLS (nginx, or daphne's TLS endpoint) and use https://.",
                    id="triggers.W001",
                )
            )
    if len(settings.API_KEY_PEPPER) < 16 and not settings.DEBUG:
        problems.append(
            Error("API_KEY_PEPPER is shorter than 16 characters.", hint="Use a long random value.", id="triggers.E003")
        )
    return problems
