"""manage.py license (show / activate / demo), licensekeys (generate / issue) and licenseusers."""

from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from licensing import tokens
from licensing.models import Installation, Licence, Seat
from licensing.state import licence_status
from tests.licensing.support import ISSUER_PUBLIC, install_licence, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def var_dir(settings, tmp_path):
    """A VAR_DIR of this test's own, so the demo key pair starts absent."""
    settings.VAR_DIR = tmp_path
    settings.LICENSE_PUBLIC_KEY = ""
    return tmp_path


def test_show_prints_the_instance_id_and_the_licence_state(settings):
    install_licence(settings, customer="ACME", seats=10, valid_until=timezone.localdate() + dt.timedelta(days=90))
    Seat.objects.create(user_guid="g1")
    out = run("license", "show")
    assert f"Instance id: {Installation.current().instance_id}" in out
    assert "State:       valid" in out and "Customer:    ACME" in out and "1 used of 10" in out
    assert "90 days left" in out


def test_activate_enters_a_key_with_the_same_checks_as_the_admin(settings):
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    out = run("license", "activate", make_token(customer="ACME", seats=10))
    assert "Licence entered: ACME, 10 seats" in out
    assert Licence.objects.get(active=True).customer == "ACME"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"instance": "HB-ELSE"}, "for the installation HB-ELSE", id="other-instance"),
        pytest.param(
            {"valid_until": dt.date(2020, 1, 1), "valid_from": dt.date(2019, 1, 1)}, "expired on", id="expired"
        ),
    ],
)
def test_activate_refuses_with_a_message_and_a_non_zero_exit(settings, overrides, message):
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    with pytest.raises(CommandError) as refused:
        run("license", "activate", make_token(**overrides))
    assert message in str(refused.value) and "Nothing was changed" in str(refused.value)
    assert not Licence.objects.exists()


def test_activate_refuses_a_truncated_key():
    with pytest.raises(CommandError, match="cut off"):
        run("license", "activate", make_token()[:-9])


def test_demo_makes_a_local_key_pair_and_a_five_seat_thirty_day_licence(var_dir):
    out = run("license", "demo")
    key_file = var_dir / "licence-demo-key.pem"
    assert "Demo licence entered: 5 seats" in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    licence = Licence.objects.get(active=True)
    assert licence.demo and licence.seats == 5
    assert licence.valid_until == timezone.localdate() + dt.timedelta(days=30)
    assert b"PRIVATE" not in licence.token.encode() and key_file.read_text() not in licence.token
    status = licence_status()
    assert status["state"] == "demo" and status["demo"] and "Demo licence" in status["message"]


def test_demo_is_idempotent(var_dir):
    run("license", "demo")
    key = (var_dir / "licence-demo-key.pem").read_bytes()
    out = run("license", "demo")
    assert "already active" in out
    assert Licence.objects.count() == 1 and (var_dir / "licence-demo-key.pem").read_bytes() == key


def test_demo_does_nothing_when_a_public_key_is_configured(var_dir, settings):
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    out = run("license", "demo")
    assert "LICENSE_PUBLIC_KEY is set: no demo licence is generated." in out
    assert not Licence.objects.exists() and not (var_dir / "licence-demo-key.pem").exists()


def test_demo_is_not_renewed_once_the_installation_had_a_licence(var_dir):
    run("license", "demo")
    Licence.objects.update(active=False)
    with pytest.raises(CommandError, match="already had a licence"):
        run("license", "demo")


def test_a_configured_public_key_stops_trusting_the_demo_licence(var_dir, settings):
    run("license", "demo")
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    from licensing.state import compute_status

    status = compute_status()
    assert status["state"] == "none" and "not signed by the licence issuer" in status["message"]


def test_licensekeys_generate_and_issue_make_a_key_the_installation_accepts(tmp_path, settings):
    private, public = tmp_path / "issuer.pem", tmp_path / "issuer.pub"
    out = run("licensekeys", "generate", "--private-key", str(private), "--public-key", str(public))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"LICENSE_PUBLIC_KEY={public.read_text().strip()}" in out
    assert "PRIVATE" not in out  # the private key is written, never printed
    instance = Installation.current().instance_id
    until = (timezone.localdate() + dt.timedelta(days=365)).isoformat()
    key = run(
        "licensekeys", "issue", "--private-key", str(private), "--instance", instance,
        "--seats", "40", "--until", until, "--customer", "ACME", "--serial", "12",
    ).strip()  # fmt: skip
    assert "\n" not in key
    settings.LICENSE_PUBLIC_KEY = public.read_text()
    licence = Licence.enter(key)
    assert (licence.customer, licence.seats, licence.serial, licence.valid_until.isoformat()) == ("ACME", 40, 12, until)
    assert licence.valid_from == timezone.localdate()


def test_licensekeys_generate_never_overwrites_a_key(tmp_path):
    private = tmp_path / "issuer.pem"
    private.write_text("precious")
    with pytest.raises(CommandError, match="refusing to overwrite"):
        run("licensekeys", "generate", "--private-key", str(private), "--public-key", str(tmp_path / "x.pub"))
    assert private.read_text() == "precious"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--until", "31.12.2027"], "is not a date", id="bad-date"),
        pytest.param(
            ["--until", "2020-01-01", "--from", "2021-01-01"], "is before the first valid day", id="until-first"
        ),
        pytest.param(["--until", "2030-01-01", "--seats", "0"], "at least 1", id="no-seats"),
    ],
)
def test_licensekeys_issue_refuses_nonsense(tmp_path, args, message):
    private = tmp_path / "issuer.pem"
    run("licensekeys", "generate", "--private-key", str(private), "--public-key", str(tmp_path / "k.pub"))
    base = ["--private-key", str(private), "--instance", "HB-X", "--customer", "C"]
    if "--seats" not in args:
        base += ["--seats", "5"]
    with pytest.raises(CommandError, match=message):
        run("licensekeys", "issue", *base, *args)


def test_licenseusers_obeys_the_seat_limit(settings, make_user):
    install_licence(settings, seats=2)
    for name in ("ann", "ben", "cat"):
        make_user(name, licensed=False)
    assert "switched on for 2 user(s)" in run("licenseusers", "--on", "ann", "BEN")
    with pytest.raises(CommandError, match=r"Not enough seats.*Nothing was changed"):
        run("licenseusers", "--on", "cat")
    assert Seat.objects.count() == 2
    assert "switched off for 1 user(s)" in run("licenseusers", "--off", "ann")
    assert "switched on for 1 user(s)" in run("licenseusers", "--on", "cat")


def test_licenseusers_names_unknown_logins_and_changes_nothing(settings, make_user):
    install_licence(settings, seats=5)
    make_user("ann", licensed=False)
    with pytest.raises(CommandError, match=r"Unknown PBX login name.*nobody"):
        run("licenseusers", "--on", "ann", "nobody")
    assert not Seat.objects.exists()


def test_the_private_demo_key_is_never_in_the_database(var_dir):
    run("license", "demo")
    pem = (var_dir / "licence-demo-key.pem").read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert not Licence.objects.filter(token__contains=body).exists()
    assert tokens.load_private_key(pem.encode())  # and it is a usable key


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("", [], id="empty-means-demo"),
        pytest.param(ISSUER_PUBLIC, [], id="base64"),
        pytest.param("c2hvcnQ=", ["licensing.E001"], id="too-short"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", ["licensing.E001"], id="bad-pem"),
    ],
)
def test_an_unusable_public_key_stops_manage_py_check(settings, value, errors):
    from licensing.checks import check_licence_public_key

    settings.LICENSE_PUBLIC_KEY = value
    assert [e.id for e in check_licence_public_key(None)] == errors
