"""The admin licence page (enter → confirm → active) and the licence banner on every admin page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from licensing.models import Installation, Licence
from tests.licensing.support import ISSUER_PUBLIC, deeply_nested_token, install_licence, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]
PAGE = "/admin/licensing/licence/"
CONFIRM = "/admin/licensing/licence/confirm/"


@pytest.fixture(autouse=True)
def trust_the_test_issuer(settings):
    """The installation trusts the suite's issuer key (the banner tests install their own licences)."""
    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC


def test_the_page_shows_the_instance_id_with_a_copy_button_and_the_order_text(admin_client):
    instance = Installation.current().instance_id
    page = admin_client.get(PAGE).content.decode()
    assert f'<code id="instance-id">{instance}</code>' in page
    assert 'data-copy="instance-id"' in page and 'data-copy="order-text"' in page
    assert f"Instance id: {instance}" in page and "Please issue a Presence Heartbeat licence key." in page
    assert "No licence has been entered" in page


def test_entering_a_key_asks_for_confirmation_first_and_then_activates_it(admin_client, admin_user):
    token = make_token(customer="ACME", seats=25)
    confirm = admin_client.post(PAGE, {"key": token})
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Yes, enter this licence" in body and "ACME" in body and ">25<" in body
    assert not Licence.objects.exists()
    done = admin_client.post(CONFIRM, {"key": token}, follow=True)
    assert done.redirect_chain[-1][0] == PAGE
    assert "Licence entered: ACME, 25 seats" in done.content.decode()
    licence = Licence.objects.get(active=True)
    assert licence.entered_by == admin_user and licence.customer == "ACME"
    page = admin_client.get(PAGE).content.decode()
    assert 'id="seats-total">25<' in page and 'id="seats-free">25<' in page and "days left" in page


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: make_token()[:-6], "cut off when it was copied", id="truncated"),
        pytest.param(lambda: make_token(instance="HB-ELSE"), "for the installation HB-ELSE", id="other-instance"),
        pytest.param(
            lambda: make_token(valid_from=dt.date(2020, 1, 1), valid_until=dt.date(2020, 12, 31)),
            "expired on 2020-12-31",
            id="expired",
        ),
    ],
)
def test_a_refused_key_is_explained_on_the_page(admin_client, make, message):
    response = admin_client.post(PAGE, {"key": make()})
    assert response.status_code == 200
    assert message in response.content.decode() and 'id="key-errors"' in response.content.decode()
    assert not Licence.objects.exists()


def test_the_confirm_step_verifies_the_key_again(admin_client):
    response = admin_client.post(CONFIRM, {"key": make_token()[:-6]}, follow=True)
    assert "The licence key was not entered" in response.content.decode()
    assert not Licence.objects.exists()


def test_staff_without_the_licensing_permission_can_look_but_not_enter_keys(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_licence"))
    client.force_login(viewer)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Check the key" not in page.content.decode()
    assert client.post(PAGE, {"key": make_token()}).status_code == 403
    assert client.post(CONFIRM, {"key": make_token()}).status_code == 403
    assert not Licence.objects.exists()


def test_the_page_keeps_the_history_of_keys(admin_client, settings):
    install_licence(settings, serial=1, seats=10, issued_at=timezone.now() - dt.timedelta(days=100))
    install_licence(settings, serial=2, seats=20)
    page = admin_client.get(PAGE).content.decode()
    assert page.count("<tr><td>") == 2 and "<strong>active</strong>" in page and "replaced" in page


DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("until_in", "demo", "css", "text"),
    [
        pytest.param(None, False, "licence-banner-none", "No valid licence.", id="none-red"),
        pytest.param(-1, False, "licence-banner-expired", "Licence expired.", id="expired-red"),
        pytest.param(30, False, "licence-banner-expiring", "Licence expiring.", id="expiring-amber"),
        pytest.param(20, True, "licence-banner-demo", "Demo licence.", id="demo"),
        pytest.param(31, False, None, None, id="valid-no-banner"),
    ],
)
def test_every_admin_page_shows_the_licence_banner(admin_client, settings, until_in, demo, css, text):
    if until_in is not None:
        until = timezone.localdate() + until_in * DAY
        install_licence(settings, check=False, valid_until=until, valid_from=until - 400 * DAY, demo=demo)
    for url in ("/admin/", "/admin/presence/pbxuser/", PAGE):
        page = admin_client.get(url).content.decode()
        if css is None:
            assert 'id="licence-banner"' not in page
        else:
            assert f'class="licence-banner {css}"' in page and text in page, url
    assert 'id="site-name"' in page  # Django's branding block still renders


def test_the_login_page_tells_strangers_nothing_about_the_licence(client):
    page = client.get("/admin/login/").content.decode()
    assert 'id="licence-banner"' not in page and 'id="site-name"' in page


def test_a_key_with_a_deeply_nested_payload_is_refused_as_damaged_on_the_page_and_the_confirm_step(admin_client):
    page = admin_client.post(PAGE, {"key": deeply_nested_token()})
    assert page.status_code == 200 and "damaged" in page.content.decode()
    confirm = admin_client.post(CONFIRM, {"key": deeply_nested_token()}, follow=True)
    assert confirm.status_code == 200 and "The licence key was not entered" in confirm.content.decode()
    assert not Licence.objects.exists()
