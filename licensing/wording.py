"""The licensing app's English sentences, as people read them in the admin and on the user page.

The licence state, refusals and key errors are written in English (`licensing.state`, `tokens`,
`models`, `seats`, `trust`): they are cached for every process, kept in the trigger log, answered by
the API and printed by `manage.py license`. Where a person reads one, it goes through `LICENCE`,
which says it again in the active language (heartbeat_site.helpers.wording explains how).
tests/licensing/test_wording.py makes every one of them with the real code and checks it is known here.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from heartbeat_site.helpers.wording import NESTED, Wording, local_date

# licensing.state: the licence state's message, and why nobody's presence may be changed.
STATE = [
    gettext_noop("No licence has been entered: no automatic changes are made. Enter a licence key."),
    gettext_noop("The active licence key is not accepted: %(problem)s No automatic changes are made."),
    gettext_noop("The licence expired on %(date)s: no automatic changes are made. Enter a new licence key."),
    gettext_noop("The licence is valid only from %(date)s: no automatic changes are made."),
    gettext_noop(
        "Demo licence: %(seats)s seats, valid until %(date)s (%(days)s left). Order a licence for instance id "
        "%(instance)s to keep it running."
    ),
    gettext_noop(
        "The licence for %(customer)s expires on %(date)s (%(days)s left): enter a new licence key before then."
    ),
    gettext_noop("Licensed to %(customer)s: %(seats)s seats, valid until %(date)s."),
    gettext_noop("1 day"),
    gettext_noop("%(count)s days"),
    gettext_noop("This user is not licensed: an administrator must switch their licence on."),
    gettext_noop("The licence expired on %(date)s: no automatic changes are made."),
    gettext_noop("There is no valid licence: no automatic changes are made."),
]

# licensing.tokens and licensing.models: why a licence key cannot be entered.
KEYS = [
    gettext_noop(
        "This is not a complete licence key: it is damaged or was cut off when it was copied. A licence key is "
        "one line starting with %(prefix)s. — copy the whole line again."
    ),
    gettext_noop("No licence key was entered."),
    gettext_noop("This is not a Presence Heartbeat licence key: a licence key starts with %(prefix)s."),
    gettext_noop(
        "This licence key is not signed by the licence issuer this installation trusts: it was altered, or it "
        "was issued for another product or with another key."
    ),
    gettext_noop(
        "This licence key is for the installation %(other)s, but this installation is %(instance)s. Order a key "
        "for %(instance)s."
    ),
    gettext_noop("This licence key expired on %(date)s: order a new key."),
    gettext_noop("This licence key is valid only from %(date)s: enter it on or after that day."),
    gettext_noop("This licence key is already the active one."),
    gettext_noop(
        "This licence key (serial %(serial)s, issued %(date)s) is older than the active one (serial "
        "%(active_serial)s, issued %(active_date)s): nothing was changed."
    ),
    gettext_noop(
        "This licence key has %(seats)s seats but %(used)s users are switched on: switch %(excess)s off first, "
        "then enter the key again."
    ),
    # licensing.trust: no key to check licence keys against.
    gettext_noop("LICENSE_PUBLIC_KEY cannot be used: %(problem)s"),
    gettext_noop(
        "LICENSE_PUBLIC_KEY is not set and there is no local demo key: set LICENSE_PUBLIC_KEY to the licence "
        "issuer's public key, or run `manage.py license demo` for a demo licence."
    ),
    gettext_noop("The demo key %(path)s cannot be read: %(problem)s"),
]

# licensing.seats: why licence switches cannot be turned on.
SEATS = [
    gettext_noop("There is no licence to take seats from: enter a licence key before switching users on."),
    gettext_noop(
        "Not enough seats: %(used)s of %(total)s in use, %(free)s free, and %(wanted)s more %(users)s asked for. "
        "Switch someone off or order more seats."
    ),
    gettext_noop("user"),
    gettext_noop("users"),
]

PATTERNS = [*STATE, *KEYS, *SEATS]
VALUES = {"problem": NESTED, "days": NESTED, "users": NESTED, "date": local_date, "active_date": local_date}

LICENCE = Wording(PATTERNS, values=VALUES)
