"""Wiring for the embedded default (`make run`): static files, and a demo that works at once."""

from __future__ import annotations

from channels.routing import ProtocolTypeRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler


def embedded_application():
    """The ASGI app plus static files (the admin's CSS): no nginx in front of the embedded default."""
    from heartbeat_site.asgi import application

    routes = dict(application.application_mapping)
    routes["http"] = ASGIStaticFilesHandler(routes["http"])
    return ProtocolTypeRouter(routes)


def seed_demo(logins: list[str]) -> str | None:
    """Licence the demo users and create a demo API key, once. None while they are not replicated yet."""
    from licensing import seats
    from licensing.models import Seat
    from presence.models import PbxUser
    from triggers.models import ApiKey
    from triggers.recipes import trigger_url

    users = list(PbxUser.objects.filter(h323_key__in=logins, active=True))
    if len(users) < len(logins):
        return None
    lines = []
    if not Seat.objects.exists():
        granted = 0
        for user in users:
            try:
                granted += seats.set_switch([user.guid], True)
            except seats.SeatLimitExceeded:
                break
        if granted:
            lines.append(f"Demo: licence switched on for {granted} demo user(s).")
    if not ApiKey.objects.exists():
        _, clear = ApiKey.create("demo (make run)")
        url = trigger_url()
        lines += [
            "Demo API key (shown once; rotate or revoke it in the admin):",
            f"  {clear}",
            "Try it:",
            f'  curl -H "Authorization: Bearer {clear}" -d user=alice -d event=lock {url}',
        ]
    return "\n".join(lines)
