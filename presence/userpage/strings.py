"""What a preset press says while it travels to the PBX, in the page's language.

Shared by the user page and the myApps user app (presence.myapps.views), whose scripts show the same
press outcomes; `{name}` and `{reason}` are filled in by the script.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PRESS_STRINGS = {
    "live": _("Live"),
    "reconnecting": _("Reconnecting…"),
    "notKnown": _("Not known yet"),
    "sending": _("Sending “{name}”…"),
    "sent": _("Sent “{name}”, waiting for the phone system…"),
    "done": _("Done: “{name}” is set."),
    "failed": _("The phone system did not accept “{name}”: {reason}"),
    "already": _("“{name}” is already your presence."),
    "superseded": _("“{name}” was replaced by a newer press."),
    "notSet": _("“{name}” was not set: {reason}"),
    "pbxDown": _(
        "The phone system cannot be reached right now. “{name}” is saved and will be set as soon as the "
        "connection is back."
    ),
}
