"""What decided a trigger, as people read it in the admin: the reasons and rule texts, translated.

The decision engine, the planning and the link worker write why a trigger ended as it did in English
(`Trigger.reason`, and the rule in `Trigger.decision`): it is the record, answered by the API and
logged. The admin shows it through `DECISIONS`, in the reader's language (heartbeat_site.helpers.wording
explains how). tests/presence/test_wording.py runs the engine's and the planning's own cases and checks
that every reason and rule text they write is known here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from heartbeat_site.helpers.wording import NESTED, Wording, local_datetime, weekdays
from licensing.wording import PATTERNS as LICENCE_PATTERNS
from licensing.wording import VALUES as LICENCE_VALUES

# Why a trigger was skipped, superseded, applied late or failed (presence.engine, presence.planning,
# presence.link.worker), or handed out (triggers.queue).
REASONS = [
    gettext_noop("heartbeat recorded"),
    gettext_noop("debounced: lock and unlock within %(seconds)s s"),
    gettext_noop("superseded by a newer trigger (#%(id)s)"),
    gettext_noop("refused: %(detail)s"),
    gettext_noop("applied; the PBX's answer was lost with the link"),
    gettext_noop("stale"),
    gettext_noop("no rule"),
    gettext_noop("rule: do nothing"),
    gettext_noop("outside working hours"),
    gettext_noop("already locked"),
    gettext_noop("already asleep"),
    gettext_noop("already logged off"),
    gettext_noop("already shut down"),
    gettext_noop("already set by %(event)s"),
    gettext_noop("protected: %(name)s"),
    gettext_noop("manual change protected"),
    gettext_noop("restore: presence changed since lock"),
    gettext_noop("restore: presence changed since sleep"),
    gettext_noop("nothing to restore"),
    gettext_noop("unchanged"),
    gettext_noop("PBX error %(code)s: %(text)s"),
    gettext_noop("the PBX did not answer SetPresence within %(seconds)s s"),
    # A computer-level trigger handed out (triggers.queue.fan_out).
    gettext_noop("for %(count)s user(s) on this device: %(names)s"),
    gettext_noop("nobody on this device"),
]

# Which rule decided (the decision record's "rule"); longer texts wrap shorter ones, so they come first.
RULES = [
    gettext_noop("%(rule)s; presence unknown: the PBX did not report it"),
    gettext_noop("%(rule)s; nothing to restore: fallback '%(preset)s'"),
    gettext_noop("%(rule)s; override rule '%(name)s' (override)"),
    # "(none chosen)" is no window: said before the patterns with one.
    gettext_noop("event rule %(event)s → preset (none chosen) (%(window)s)"),
    gettext_noop("event rule %(event)s → preset (none chosen)"),
    gettext_noop("event rule %(event)s → %(action)s (%(window)s)"),
    gettext_noop("event rule %(event)s → %(action)s"),
    gettext_noop("preset '%(preset)s'"),
    gettext_noop("preset (none chosen)"),
    gettext_noop("restore"),
    gettext_noop("do nothing"),
    gettext_noop("override rule '%(name)s' (protect)"),
    gettext_noop("override rule '%(name)s' (override)"),
    gettext_noop("no event rule for '%(event)s'"),
    gettext_noop("ordering: older than the last decided trigger (%(since)s)"),
    gettext_noop("manual wins (changed by hand, noticed %(since)s)"),
    gettext_noop("button: preset '%(preset)s'"),
]

# Why a trigger was refused before it was queued (presence.identity).
IDENTITY = [
    gettext_noop("The user value is empty."),
    gettext_noop("No PBX user matches %(value)s by login name, e-mail or number."),
    gettext_noop("%(value)s matches several PBX users by %(stage)s: %(names)s."),
    gettext_noop("login name"),
    gettext_noop("e-mail"),
    gettext_noop("number"),
    gettext_noop("login name without domain"),
]

PATTERNS = [*RULES, *REASONS, *IDENTITY, *LICENCE_PATTERNS]
VALUES = {
    **LICENCE_VALUES,
    "detail": NESTED,
    "rule": NESTED,
    "action": NESTED,
    "stage": NESTED,
    "since": local_datetime,
    "window": weekdays,
}

DECISIONS = Wording(PATTERNS, values=VALUES)

# An activity as the admin names it; others (RFC 4480's "lunch", "vacation"…) as they are.
ACTIVITY_NAMES = {"": _("available"), "away": _("away"), "busy": _("busy"), "dnd": _("dnd")}


def activity_name(activity: str | None) -> str:
    return str(ACTIVITY_NAMES.get(activity or "", activity))
