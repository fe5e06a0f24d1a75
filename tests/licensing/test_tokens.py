"""Licence keys: the verification table, the key formats, and what a damaged key looks like."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing import tokens

INSTANCE = "HB-AAAA-BBBB-CCCC-DDDD"
TODAY = dt.date(2026, 11, 27)
ISSUER = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()


def terms(**overrides) -> tokens.LicenceTerms:
    fields = {
        "customer": "ACME GmbH",
        "instance": INSTANCE,
        "seats": 25,
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        "issued_at": dt.datetime(2025, 12, 20, 9, 30, tzinfo=dt.UTC),
        "serial": 7,
    }
    return tokens.LicenceTerms(**{**fields, **overrides})


def good() -> str:
    return tokens.issue(terms(), ISSUER)


def flip_signature_byte(token: str) -> str:
    head, payload, sig = token.split(".")
    raw = bytearray(tokens._b64decode(sig))
    raw[10] ^= 0x01
    return f"{head}.{payload}.{tokens._b64encode(bytes(raw))}"


def swap_payload(token: str) -> str:
    """The payload of a 2500-seat key under the signature of the 25-seat one."""
    _, payload, _ = tokens.issue(terms(seats=2500), STRANGER).split(".")
    head, _, sig = token.split(".")
    return f"{head}.{payload}.{sig}"


CASES = [
    pytest.param(good, None, "", id="valid"),
    pytest.param(
        lambda: tokens.issue(terms(instance="HB-ZZZZ-YYYY-XXXX-WWWW"), ISSUER),
        "other_instance",
        f"for the installation HB-ZZZZ-YYYY-XXXX-WWWW, but this installation is {INSTANCE}",
        id="wrong-instance",
    ),
    pytest.param(
        lambda: flip_signature_byte(good()),
        "bad_signature",
        "not signed by the licence issuer this installation trusts",
        id="bad-signature",
    ),
    pytest.param(
        lambda: swap_payload(good()),
        "bad_signature",
        "not signed by the licence issuer this installation trusts",
        id="altered-payload",
    ),
    pytest.param(lambda: good()[:-5], "malformed", "cut off when it was copied", id="truncated-signature"),
    pytest.param(lambda: good()[:40], "malformed", "cut off when it was copied", id="truncated-payload"),
    pytest.param(lambda: "", "malformed", "No licence key was entered", id="empty"),
    pytest.param(lambda: "hello world", "malformed", "starts with PHL1", id="not-a-key"),
    pytest.param(
        lambda: tokens.issue(terms(valid_until=dt.date(2026, 11, 26)), ISSUER),
        "expired",
        "expired on 2026-11-26",
        id="expired",
    ),
    pytest.param(
        lambda: tokens.issue(terms(valid_from=dt.date(2026, 11, 28)), ISSUER),
        "not_yet_valid",
        "valid only from 2026-11-28",
        id="not-yet-valid",
    ),
    pytest.param(
        lambda: tokens.issue(terms(), STRANGER),
        "bad_signature",
        "not signed by the licence issuer this installation trusts",
        id="wrong-public-key",
    ),
]


@pytest.mark.parametrize(("make", "code", "message"), CASES)
def test_it_verifies_a_licence_key_or_says_precisely_why_not(make, code, message):
    token = make()
    if code is None:
        assert tokens.verify(token, ISSUER.public_key(), instance_id=INSTANCE, today=TODAY) == terms()
        return
    with pytest.raises(tokens.InvalidLicence) as refused:
        tokens.verify(token, ISSUER.public_key(), instance_id=INSTANCE, today=TODAY)
    assert refused.value.code == code
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("day", "ok"),
    [
        pytest.param(dt.date(2026, 1, 1), True, id="first-day"),
        pytest.param(dt.date(2026, 12, 31), True, id="last-day"),
        pytest.param(dt.date(2025, 12, 31), False, id="day-before"),
        pytest.param(dt.date(2027, 1, 1), False, id="day-after"),
    ],
)
def test_the_validity_dates_are_inclusive(day, ok):
    if ok:
        tokens.verify(good(), ISSUER.public_key(), instance_id=INSTANCE, today=day)
    else:
        with pytest.raises(tokens.InvalidLicence):
            tokens.verify(good(), ISSUER.public_key(), instance_id=INSTANCE, today=day)


def test_a_key_is_one_line_and_survives_being_wrapped_by_a_mail_client():
    token = good()
    assert "\n" not in token and " " not in token and token.startswith("PHL1.")
    wrapped = "\n".join(token[i : i + 60] for i in range(0, len(token), 60))
    assert tokens.verify(f"  {wrapped}\n", ISSUER.public_key(), instance_id=INSTANCE, today=TODAY) == terms()


def test_it_refuses_characters_outside_base64url_instead_of_skipping_them():
    head, payload, sig = good().split(".")
    with pytest.raises(tokens.InvalidLicence) as refused:
        tokens.verify(f"{head}.{payload}!.{sig}", ISSUER.public_key(), instance_id=INSTANCE, today=TODAY)
    assert refused.value.code == "malformed"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda key: tokens.public_b64(key), id="base64-raw"),
        pytest.param(lambda key: tokens.public_pem(key), id="pem"),
        pytest.param(lambda key: tokens.public_pem(key).replace("\n", "\n  "), id="pem-indented"),
    ],
)
def test_it_reads_the_public_key_as_base64_or_pem(form):
    key = tokens.load_public_key(form(ISSUER.public_key()))
    assert tokens.verify(good(), key, instance_id=INSTANCE, today=TODAY) == terms()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("not base64 at all!", "neither PEM nor base64", id="garbage"),
        pytest.param("AAAA", "has 3 bytes", id="too-short"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "cannot be read", id="bad-pem"),
    ],
)
def test_it_explains_an_unusable_public_key(text, message):
    with pytest.raises(tokens.UnreadableKey) as refused:
        tokens.load_public_key(text)
    assert message in str(refused.value)


def test_the_private_key_round_trips_through_pem():
    again = tokens.load_private_key(tokens.private_pem(ISSUER))
    assert tokens.public_b64(again.public_key()) == tokens.public_b64(ISSUER.public_key())
