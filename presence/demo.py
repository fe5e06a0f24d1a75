"""The embedded default's demo: the simulator's users, their licences and an API key, so that a new
install shows presence changing within a minute (`make run` without PBX_URL)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext, ngettext

from licensing import seats
from licensing.models import Seat
from presence.models import PbxUser
from presence.myapps.config import ADMIN, USER, app_object
from presence.pbx.simulator import SimApp, SimUser
from triggers.models import ApiKey
from triggers.recipes import trigger_url

DEMO_USERS = [
    ("admin", "Administrator", "100"),
    ("alice", "Alice Smith", "201"),
    ("bob", "Bob Jones", "202"),
    ("carol", "Carol White", "203"),
    ("dave", "Dave Brown", "204"),
    ("erin", "Erin Green", "205"),
]
# Who has which myApps app on the demo PBX: erin lacks the user app (the preview shows her refusal),
# only the administrator has the admin app.
DEMO_WITHOUT_USER_APP = {"erin"}
DEMO_ADMIN_APP_USERS = {"admin"}


def demo_users() -> list[SimUser]:
    return [
        SimUser(guid=f"{n + 1:032x}", h323=h323, cn=cn, dn=cn, e164=e164, emails=[f"{h323}@example.com"])
        for n, (h323, cn, e164) in enumerate(DEMO_USERS)
    ]


def demo_apps() -> list[SimApp]:
    """The two App objects on the demo PBX, with the passwords this service has for them (`make run` puts
    them in .env): the simulator signs myApps logins with them, as a PBX would."""
    user_app, admin_app = app_object(USER), app_object(ADMIN)
    apps = []
    if user_app.enabled:
        users = {h323 for h323, _, _ in DEMO_USERS} - DEMO_WITHOUT_USER_APP
        apps.append(SimApp(user_app.name, user_app.password, "Presence", user_app.url, users))
    if admin_app.enabled:
        apps.append(SimApp(admin_app.name, admin_app.password, "Presence admin", admin_app.url, DEMO_ADMIN_APP_USERS))
    return apps


def myapps_preview_text() -> str:
    """Where to see the myApps apps without a PBX (or why they are off)."""
    base = f"{settings.PUBLIC_URL}/myapps/preview"
    lines = []
    if app_object(USER).enabled:
        lines.append(
            gettext("myApps user app preview:  %(url)s   (erin has no user app: %(erin)s)")
            % {"url": f"{base}?user=alice", "erin": f"{base}?user=erin"}
        )
    if app_object(ADMIN).enabled:
        lines.append(gettext("myApps admin app preview: %(url)s") % {"url": f"{base}?app=admin&user=admin"})
    for role, setting in ((USER, "MYAPPS_USER_PASSWORD"), (ADMIN, "MYAPPS_ADMIN_PASSWORD")):
        if not app_object(role).enabled:
            text = (
                gettext("myApps user app off: set %(setting)s (make run writes it into .env).")
                if role == USER
                else gettext("myApps admin app off: set %(setting)s (make run writes it into .env).")
            )
            lines.append(text % {"setting": setting})
    return "\n".join(lines)


def seed_demo(logins: list[str]) -> str | None:
    """Licence the demo users and create a demo API key, once. None while they are not replicated yet."""
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
            lines.append(
                ngettext(
                    "Demo: licence switched on for %(count)d demo user.",
                    "Demo: licence switched on for %(count)d demo users.",
                    granted,
                )
                % {"count": granted}
            )
    if not ApiKey.objects.exists():
        _, clear = ApiKey.create("demo (make run)")
        url = trigger_url()
        lines += [
            gettext("Demo API key (shown once; rotate or revoke it in the admin):"),
            f"  {clear}",
            gettext("Try it:"),
            f'  curl -H "Authorization: Bearer {clear}" -d user=alice -d event=lock {url}',
        ]
    return "\n".join(lines)
