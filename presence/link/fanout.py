"""Device-only triggers in the worker's round: each goes to the users on its computer.

Done in the round, not in the API: the request stays one INSERT and a 202, the question "who is on
TS-01?" is asked against a log that holds every trigger accepted before it, and a device trigger
accepted while the PBX was away is handed out once the worker plans again. The per-user triggers
are planned in the next round like any other (rules, licence, ordering, known before decided).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from presence.models import PbxUser, ServiceSettings
from triggers import devices, queue
from triggers.models import Trigger


def dispatch(device_triggers: Sequence[Trigger], now: dt.datetime) -> int:
    """Hand each device-only trigger to the users on its computer; returns the per-user triggers made."""
    if not device_triggers:
        return 0
    window = dt.timedelta(hours=ServiceSettings.current().device_window_hours)
    on_device = {trigger.pk: set(devices.users_on(trigger.computer, trigger.at, window)) for trigger in device_triggers}
    # The users of every device in one query (not one per device trigger), in the order fan_out names them.
    wanted = set().union(*on_device.values())
    users = list(PbxUser.objects.filter(pk__in=wanted).only("id", "h323").order_by("h323")) if wanted else []
    made = 0
    for trigger in device_triggers:
        ids = on_device[trigger.pk]
        made += len(queue.fan_out(trigger, [user for user in users if user.pk in ids], now))
    return made
