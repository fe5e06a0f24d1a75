"""licence_status(), refusal_for() and set_switch(): the functions the rest of the service calls."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing import seats, state
from licensing.models import Seat
from licensing.state import licence_state, licence_status
from tests.licensing.support import install_licence

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]
TODAY = timezone.localdate
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("licence", "state", "days_left", "message"),
    [
        pytest.param(None, "none", None, "No licence has been entered", id="none"),
        pytest.param({"valid_until_in": 200}, "valid", 200, "Licensed to Test Customer: 100000 seats", id="valid"),
        pytest.param({"valid_until_in": 30}, "expiring", 30, "expires on", id="expiring-30-days"),
        pytest.param({"valid_until_in": 0}, "expiring", 0, "(0 days left)", id="last-day"),
        pytest.param({"valid_until_in": -1}, "expired", 0, "expired on", id="expired-yesterday"),
        pytest.param({"valid_until_in": 30, "demo": True}, "demo", 30, "Demo licence: 100000 seats", id="demo"),
        pytest.param({"valid_until_in": -3, "demo": True}, "expired", 0, "expired on", id="demo-expired"),
    ],
)
def test_the_status_says_what_state_the_licence_is_in(settings, licence, state, days_left, message):
    if licence is not None:
        until = TODAY() + licence.pop("valid_until_in") * DAY
        install_licence(settings, check=False, valid_until=until, valid_from=until - 400 * DAY, **licence)
    seats.set_switch(["g1"], True) if state not in ("none", "expired") else None
    status = licence_status()
    assert status["state"] == state and status["days_left"] == days_left and message in status["message"]
    assert json.loads(json.dumps(status)) == status
    assert set(status) >= {"state", "customer", "seats_total", "seats_used", "valid_until", "days_left", "message"}


def test_the_status_is_cached_and_a_change_invalidates_it_at_once(settings):
    install_licence(settings, seats=5)
    assert licence_status()["seats_used"] == 0
    with CaptureQueriesContext(connection) as queries:
        licence_status()
        licence_state()
    assert queries.captured_queries == []
    seats.set_switch(["g1", "g2"], True)
    assert licence_status()["seats_used"] == 2
    install_licence(settings, seats=7, serial=50)
    assert licence_status()["seats_total"] == 7


@pytest.mark.parametrize(
    ("licence", "switched_on", "code", "detail"),
    [
        pytest.param({}, True, None, None, id="licensed"),
        pytest.param({}, False, "not_licensed", "not licensed", id="switch-off"),
        pytest.param(None, True, "licence_expired", "There is no valid licence", id="no-licence"),
        pytest.param({"valid_until_in": -1}, True, "licence_expired", "The licence expired on", id="expired"),
        pytest.param({"valid_until_in": 5}, False, "not_licensed", "not licensed", id="expiring-switch-off"),
    ],
)
def test_refusal_for_answers_who_may_be_changed_now(settings, licence, switched_on, code, detail):
    if licence is not None:
        until = TODAY() + licence.get("valid_until_in", 100) * DAY
        install_licence(settings, check=False, valid_until=until, valid_from=until - 400 * DAY)
    if switched_on:
        Seat.objects.create(user_guid="g1")
    refusal = state.refusal_for("g1")
    if code is None:
        assert refusal is None
    else:
        assert refusal.code == code and detail in refusal.detail
        if code == "licence_expired" and licence:
            assert refusal.detail.endswith("no automatic changes are made.")


def test_refusal_for_costs_one_query_once_the_state_is_cached(settings):
    install_licence(settings)
    Seat.objects.create(user_guid="g1")
    state.refusal_for("g1")
    with CaptureQueriesContext(connection) as queries:
        assert state.refusal_for("g1") is None
    assert len(queries) == 1 and "licensing_seat" in queries[0]["sql"]


def test_switching_on_is_all_or_nothing_within_the_seats(settings):
    install_licence(settings, seats=3)
    assert seats.set_switch(["a", "b"], True) == 2
    with pytest.raises(seats.SeatLimitExceeded) as refused:
        seats.set_switch(["a", "c", "d"], True)  # "a" is on already: 2 new, 1 free
    assert str(refused.value).startswith("Not enough seats: 2 of 3 in use, 1 free, and 2 more users asked for.")
    assert set(Seat.objects.values_list("user_guid", flat=True)) == {"a", "b"}
    assert seats.set_switch(["a", "c"], True) == 1
    assert Seat.objects.count() == 3


def test_switching_on_without_a_licence_says_to_enter_one():
    with pytest.raises(seats.SeatLimitExceeded) as refused:
        seats.set_switch(["a"], True)
    assert "enter a licence key" in str(refused.value)


def test_switching_off_always_works_even_without_a_licence(settings):
    Seat.objects.bulk_create([Seat(user_guid=g) for g in ("a", "b")])
    assert seats.set_switch(["a", "b", "zzz"], False) == 2
    assert not Seat.objects.exists()


def test_a_switch_that_is_already_in_place_counts_as_unchanged(settings):
    install_licence(settings, seats=1)
    assert seats.set_switch(["a"], True) == 1
    assert seats.set_switch(["a", "a"], True) == 0
    assert seats.set_switch(["b"], False) == 0


def test_thousands_of_switches_at_once_stay_below_the_database_parameter_limit(settings):
    install_licence(settings, seats=40_000)
    guids = [f"{n:032x}" for n in range(35_000)]
    assert seats.set_switch(guids, True) == 35_000
    assert seats.set_switch(guids, True) == 0
    assert seats.set_switch(guids, False) == 35_000
