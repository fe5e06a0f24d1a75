"""heartbeat_site.helpers.wording: stored English said again in the reader's language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from heartbeat_site.helpers.wording import NESTED, Wording, local_date, local_datetime, short_datetime, weekdays

# Patterns the German catalogue translates (presence.wording's), so that the tests read real German.
REASONS = Wording(
    ["refused: %(detail)s", "superseded by a newer trigger (#%(id)s)", "stale"],
    values={"detail": NESTED},
)


def test_it_says_a_known_sentence_in_the_active_language_with_the_values_it_found():
    with translation.override("de"):
        assert REASONS("superseded by a newer trigger (#41)") == "durch einen neueren Trigger ersetzt (#41)"
        assert REASONS("stale") == "veraltet"
    with translation.override("en"):
        assert REASONS("superseded by a newer trigger (#41)") == "superseded by a newer trigger (#41)"


def test_a_value_that_is_a_sentence_of_its_own_is_translated_too():
    with translation.override("de"):
        assert REASONS("refused: stale") == "abgelehnt: veraltet"
        assert REASONS("refused: something new") == "abgelehnt: something new"


def test_text_no_pattern_fits_is_shown_as_it_was_stored():
    with translation.override("de"):
        assert REASONS.translate("the PBX's own words") is None
        assert REASONS("the PBX's own words") == "the PBX's own words"
        assert REASONS("") == ""
        # A pattern must fit the whole text, not a piece of it.
        assert REASONS("stale and more") == "stale and more"


def test_a_name_used_twice_must_be_the_same_text_twice():
    twice = Wording(["%(a)s and %(a)s"])
    assert twice.translate("x and x") == "x and x"
    assert twice.translate("x and y") is None


@pytest.mark.parametrize(
    ("language", "date", "moment", "seconds"),
    [
        ("de", "29.11.2026", "29.11.2026 17:29", "29.11.2026 17:29:05"),
        ("en", "2026-11-29", "2026-11-29 17:29", "2026-11-29 17:29:05"),
    ],
)
def test_dates_and_times_follow_the_language_in_the_servers_time_zone(settings, language, date, moment, seconds):
    settings.TIME_ZONE = "Europe/Berlin"
    utc = dt.datetime(2026, 11, 29, 16, 29, 5, tzinfo=dt.UTC)
    with translation.override(language):
        assert local_date("2026-11-29") == date
        assert short_datetime(utc) == moment
        assert short_datetime(utc, seconds=True) == seconds
        assert local_datetime(utc.isoformat()) == seconds
        assert local_date("not a date") == "not a date"


def test_weekday_names_are_djangos_own_in_the_active_language():
    with translation.override("de"):
        assert weekdays("Mon,Tue,Sun 08:00–17:00") == "Mo,Di,So 08:00–17:00"
        assert weekdays("Monday") == "Monday"  # whole words only
