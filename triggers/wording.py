"""The trigger log's reasons as people read them in the admin, in their language.

A refused trigger's reason is what the API answered (`detail`, English: scripts log it); a decided
one's is the worker's (presence.wording). `TRIGGER_LOG` knows both (heartbeat_site.helpers.wording
explains how).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from heartbeat_site.helpers.wording import NESTED, Wording
from presence.wording import PATTERNS as DECISION_PATTERNS
from presence.wording import VALUES as DECISION_VALUES

# triggers.views and triggers.serializers: refusals after the key was accepted (they leave a row).
API = [
    gettext_noop("Invalid trigger: %(summary)s"),
    gettext_noop("event: Unknown event %(event)s: use %(accepted)s."),
    gettext_noop("%(events)s or a custom event defined in the admin"),
    gettext_noop("at: 'at' lies more than %(seconds)s s in the future: check the computer's clock."),
    gettext_noop("%(field)s: Control characters (such as NUL or line breaks) are not allowed."),
    gettext_noop("The request body is over %(bytes)s bytes."),
]

PATTERNS = [*API, *DECISION_PATTERNS]
TRIGGER_LOG = Wording(PATTERNS, values={**DECISION_VALUES, "summary": NESTED, "accepted": NESTED})

KEY_STATES = {"active": _("active"), "rotating": _("rotating"), "expired": _("expired"), "revoked": _("revoked")}


def key_state_name(state: str) -> str:
    """An API key's state (ApiKey.state) as people read it."""
    return str(KEY_STATES.get(state, state))
