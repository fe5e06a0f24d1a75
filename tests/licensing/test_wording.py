"""Every sentence the licensing app writes reads in German where a person sees it.

Each message is made by the real code (licence states, refusals, key errors, seat limits): a new
or changed sentence that licensing.wording does not know fails here, before the admin shows it in
English. The English stays what the API, the trigger log and `manage.py license` say.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone, translation

from licensing import seats, state, tokens, trust
from licensing.models import Licence
from licensing.wording import LICENCE
from tests.licensing.support import ISSUER_PUBLIC, install_licence, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]
DAY = dt.timedelta(days=1)


def status_messages(settings) -> list[str]:
    """The licence state's message in each state it can be in."""
    today = timezone.localdate()
    messages = [state.compute_state()["message"]]  # no licence
    for serial, changes in enumerate(
        [
            {"valid_until": today + 200 * DAY},
            {"valid_until": today + 10 * DAY},
            {"valid_until": today + 1 * DAY},
            {"valid_until": today - 1 * DAY, "valid_from": today - 400 * DAY},
            {"valid_until": today + 30 * DAY, "demo": True},
            {"valid_from": today + 2 * DAY, "valid_until": today + 40 * DAY},
        ],
        start=1,
    ):
        Licence.objects.all().delete()
        install_licence(settings, check=False, serial=serial, **changes)
        messages.append(state.compute_state()["message"])
    messages.append(state.licence_refusal().detail if state.licence_refusal() else "")  # not yet valid
    Licence.objects.all().delete()
    install_licence(settings, check=False, serial=20, valid_until=today - DAY, valid_from=today - 400 * DAY)
    state.invalidate()
    messages.append(state.licence_refusal().detail)  # expired
    Licence.objects.update(token="PHL1.forged.x")
    messages.append(state.compute_state()["message"])  # a stored key that is not accepted any more
    messages.append(state.NOT_LICENSED.detail)
    return messages


def key_errors(settings) -> list[str]:
    """Why a licence key cannot be entered, for each reason the checks give."""
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    Licence.objects.all().delete()
    today = timezone.localdate()
    attempts = [
        "",
        "XYZ.abc.def",
        "PHL1.only-two",
        make_token(key=Ed25519PrivateKey.generate()),
        make_token(instance="HB-OTHER"),
        make_token(valid_until=today - DAY, valid_from=today - 9 * DAY),
        make_token(valid_from=today + 2 * DAY),
    ]
    errors = []
    for token in attempts:
        with pytest.raises(tokens.InvalidLicence) as refused:
            Licence.examine(token)
        errors.append(refused.value.message)
    active = make_token(serial=5, seats=10)
    Licence.enter(active)
    seats.set_switch(["g1", "g2"], True)
    for token in [active, make_token(serial=1, issued_at=timezone.now() - 60 * DAY), make_token(serial=9, seats=1)]:
        with pytest.raises(tokens.InvalidLicence) as refused:
            Licence.examine(token)
        errors.append(refused.value.message)
    with pytest.raises(seats.SeatLimitExceeded) as full:
        seats.set_switch([f"g{n}" for n in range(3, 20)], True)
    errors.append(str(full.value))
    Licence.objects.all().delete()
    with pytest.raises(seats.SeatLimitExceeded) as none:
        seats.set_switch(["g3"], True)
    errors.append(str(none.value))
    for public_key, var_dir in [("not a key", settings.VAR_DIR), ("", "/nonexistent-var-dir")]:
        settings.LICENSE_PUBLIC_KEY, settings.VAR_DIR = public_key, var_dir
        with pytest.raises(trust.NoTrustedKey) as untrusted:
            trust.trusted_public_key()
        errors.append(str(untrusted.value))
    return errors


def test_every_licence_message_is_known_and_reads_in_german(settings):
    messages = [m for m in status_messages(settings) + key_errors(settings) if m]
    assert len(set(messages)) >= 22
    with translation.override("de"):
        unknown = [m for m in messages if LICENCE.translate(m) is None]
        english = [m for m in messages if LICENCE(m) == m]
    assert unknown == []
    assert english == []


def test_the_german_message_names_the_date_in_the_german_way(settings):
    until = timezone.localdate() + 10 * DAY
    install_licence(settings, check=False, valid_until=until, customer="ACME")
    message = state.compute_state()["message"]
    with translation.override("de"):
        assert LICENCE(message) == (
            f"Die Lizenz für ACME läuft am {until:%d.%m.%Y} ab (noch 10 Tage): Tragen Sie vorher einen neuen "
            "Lizenzschlüssel ein."
        )
    assert message.startswith(f"The licence for ACME expires on {until.isoformat()}")  # the record stays English
