"""English machine text, shown to people in their language.

Some sentences are records as much as messages: a trigger's reason and the rule that decided it are
written once, in English, into the trigger log (and answered by the API, and logged); the licence
state is cached once for every process and every reader. People read them in the admin in their own
language, so they are translated when they are *shown*: a `Wording` knows the English patterns a
module writes (`"superseded by a newer trigger (#%(id)s)"`, marked with `gettext_noop` so that they
land in the catalogue), finds the one a stored text was made from, and says it again through
`gettext` with the values it found. A text no pattern fits is shown as it was stored.

A value may be a sentence of its own (`"refused: %(detail)s"`): `values` names how each value is shown
— `NESTED` translates it again, `local_date`/`local_datetime` write ISO dates and times in the
language's short format and the server's time zone, any other callable is used as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NESTED = object()  # a `values` entry: the value is itself one of the sentences, translated again


def local_date(value: str) -> str:
    """`2026-11-29` in the active language's short date format (29.11.2026); anything else as it is."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def local_datetime(value: str) -> str:
    """An ISO date and time in the server's time zone and the language's short format, seconds kept."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return short_datetime(moment, seconds=True)  # in the server's time zone when aware


def short_datetime(moment: dt.datetime, *, seconds: bool = False) -> str:
    """A date and time as people read them in the active language (29.11.2026 17:29, or 2026-11-29 17:29).

    Aware values are shown in the server's TIME_ZONE; the seconds, when asked for, on the 24-hour clock
    both languages use here.
    """
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    text = formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    return f"{formats.date_format(moment, 'SHORT_DATE_FORMAT')} {moment:%H:%M:%S}" if seconds else text


_WEEKDAY_NUMBERS = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5, "Sun": 6}
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAY_NUMBERS) + r")\b")


def weekdays(value: str) -> str:
    """English weekday abbreviations (`Mon,Tue 08:00–17:00`) in the active language (Django's own names)."""
    return _WEEKDAY.sub(lambda m: str(WEEKDAYS_ABBR[_WEEKDAY_NUMBERS[m.group(1)]]), value)


class Wording:
    """The sentences one part of the service writes in English, to be shown translated.

    Patterns are tried in their order; the first that matches the whole text wins, so a pattern that
    wraps others (`"%(rule)s; presence unknown: …"`) comes before them.
    """

    def __init__(self, *patterns: Iterable[str], values: dict[str, object] | None = None):
        self.patterns = [p for group in patterns for p in group]
        self.values = dict(values or {})
        self._compiled = [(re.compile(_regex(p), re.S), p) for p in self.patterns]

    def translate(self, text: str) -> str | None:
        """`text` in the active language, or None when it was made from none of the patterns."""
        for regex, pattern in self._compiled:
            found = regex.fullmatch(text)
            if found is not None:
                params = {name: self._value(name, value) for name, value in found.groupdict().items()}
                return gettext(pattern) % params if params else gettext(pattern)
        return None

    def __call__(self, text: str) -> str:
        """`text` in the active language where a pattern fits, as stored otherwise."""
        if not text:
            return text
        translated = self.translate(text)
        return text if translated is None else translated

    def _value(self, name: str, value: str) -> str:
        show = self.values.get(name)
        if show is NESTED:
            return self(value)
        if callable(show):
            return show(value)
        return value


def _regex(pattern: str) -> str:
    parts, seen, position = [], set(), 0
    for placeholder in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : placeholder.start()]))
        name = placeholder.group(1)
        # A name used twice must be the same text twice.
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = placeholder.end()
    parts.append(re.escape(pattern[position:]))
    return "".join(parts)
