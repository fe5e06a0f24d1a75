"""The embedded default's demo: the simulator's users, their licences and an API key, so that a new
install shows presence changing within a minute (`make run` without PBX_URL)."""

from __future__ import annotations

from licensing import seats
from licensing.models import Seat
from presence.models import PbxUser
from presence.pbx.simulator import SimUser
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


def demo_users() -> list[SimUser]:
    return [
        SimUser(guid=f"{n + 1:032x}", h323=h323, cn=cn, dn=cn, e164=e164, emails=[f"{h323}@example.com"])
        for n, (h323, cn, e164) in enumerate(DEMO_USERS)
    ]


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
