"""Which event names the trigger API accepts: the built-in ones and the admin's custom events."""

from __future__ import annotations

from presence.models import BUILTIN_EVENTS, RULE_EVENTS, EventRule


def is_known_event(name: str) -> bool:
    if name in BUILTIN_EVENTS:
        return True
    # heartbeat-lost is the service's own event; computers may not post it.
    return name not in RULE_EVENTS and EventRule.objects.filter(event=name).exists()


def known_events_text() -> str:
    return ", ".join(BUILTIN_EVENTS) + " or a custom event defined in the admin"
