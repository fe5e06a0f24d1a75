"""Entering licence keys: instance id, checks and messages, newer replaces older, history kept."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from licensing import seats, tokens
from licensing.models import Installation, Licence, Seat
from tests.licensing.support import ISSUER_PUBLIC, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]


@pytest.fixture(autouse=True)
def trust_the_test_issuer(settings):
    """These tests enter keys themselves; the installation trusts the suite's issuer key."""
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC


def test_the_instance_id_is_made_once_and_kept():
    first = Installation.current().instance_id
    assert first.startswith("HB-") and len(first) == 22
    assert Installation.current().instance_id == first
    assert Installation.objects.count() == 1


def test_a_valid_key_becomes_the_active_licence(admin_user):
    licence = Licence.enter(make_token(customer="ACME", seats=12), by=admin_user)
    assert licence.active and licence.customer == "ACME" and licence.seats == 12
    assert licence.entered_by == admin_user and licence.instance_id == Installation.current().instance_id


def test_a_newer_key_replaces_the_old_one_and_the_history_is_kept():
    old = Licence.enter(make_token(serial=1, seats=10, issued_at=timezone.now() - dt.timedelta(days=30)))
    new = Licence.enter(make_token(serial=2, seats=20))
    old.refresh_from_db()
    assert new.active and not old.active and old.replaced_at is not None
    assert list(Licence.objects.values_list("serial", "active")) == [(2, True), (1, False)]


@pytest.mark.parametrize(
    ("second", "code", "message"),
    [
        pytest.param(
            {"serial": 1, "issued_at": timezone.now() - dt.timedelta(days=60)},
            "older",
            "is older than the active one",
            id="older-key",
        ),
        pytest.param(None, "already_active", "already the active one", id="same-key"),
        pytest.param(
            {"seats": 1, "serial": 9},
            "too_few_seats",
            "has 1 seats but 2 users are switched on",
            id="fewer-seats-than-used",
        ),
        pytest.param(
            {"instance": "HB-OTHER", "serial": 9},
            "other_instance",
            "for the installation HB-OTHER",
            id="other-instance",
        ),
    ],
)
def test_it_refuses_a_key_and_changes_nothing(second, code, message):
    first_token = make_token(serial=5, seats=10)
    first = Licence.enter(first_token)
    seats.set_switch(["g1", "g2"], True)
    token = first_token if second is None else make_token(**second)
    with pytest.raises(tokens.InvalidLicence) as refused:
        Licence.enter(token)
    assert refused.value.code == code and message in refused.value.message
    assert list(Licence.objects.values_list("pk", "active")) == [(first.pk, True)]


def test_a_demo_licence_gives_way_to_any_genuine_key(settings):
    Licence.enter(make_token(serial=99, demo=True, seats=5))
    real = Licence.enter(make_token(serial=1, seats=50, issued_at=timezone.now() - dt.timedelta(days=400)))
    assert real.active and not real.demo


def test_a_key_signed_by_another_issuer_is_refused():
    with pytest.raises(tokens.InvalidLicence) as refused:
        Licence.enter(make_token(key=Ed25519PrivateKey.generate()))
    assert refused.value.code == "bad_signature"
    assert not Licence.objects.exists()


def test_without_any_trusted_key_it_says_how_to_get_one(settings):
    settings.LICENSE_PUBLIC_KEY = ""  # and no demo key in this test's VAR_DIR
    settings.VAR_DIR = "/nonexistent-var-dir"
    with pytest.raises(tokens.InvalidLicence) as refused:
        Licence.enter(make_token())
    assert refused.value.code == "no_trusted_key" and "LICENSE_PUBLIC_KEY" in refused.value.message


def test_an_edited_row_grants_nothing_because_the_key_is_verified_again():
    from licensing.state import compute_status

    Licence.enter(make_token(seats=3))
    Licence.objects.update(seats=1000, token="PHL1.forged.x")
    status = compute_status()
    assert status["state"] == "none" and status["seats_total"] == 0
    with pytest.raises(seats.SeatLimitExceeded):
        seats.set_switch(["g1"], True)
    assert not Seat.objects.exists()
