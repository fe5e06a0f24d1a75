"""The licence switch in a real browser: search, flip, reload, still on; beyond the seats, refused."""

from __future__ import annotations

import pytest

from licensing.models import Seat
from presence.models import PbxUser
from tests.e2e.conftest import admin_login, screenshot
from tests.licensing.support import install_licence

pytestmark = [pytest.mark.browser, pytest.mark.no_licence]


def search(page, base: str, term: str) -> None:
    page.goto(f"{base}/admin/presence/pbxuser/")
    page.fill("#searchbar", term)
    page.press("#searchbar", "Enter")
    page.wait_for_url(f"**/admin/presence/pbxuser/?q={term}")


def switch(page, login: str):
    return page.locator(f'input.licence-toggle[aria-label="Licence for {login}"]')


def test_an_administrator_flips_a_switch_and_is_refused_beyond_the_seats(page, live_server, admin_user, settings):
    from playwright.sync_api import expect

    install_licence(settings, seats=2)
    for login, name in (("ann", "Ann Archer"), ("ben", "Ben Baker"), ("cat", "Cat Cooper")):
        PbxUser.objects.create(guid=f"guid-{login}", h323=login, cn=name, e164=f"20{len(name)}")
    Seat.objects.create(user_guid="guid-ann")  # one of the two seats is taken
    admin_login(page, live_server.url, "admin", "password")

    # Search by name, flip Ben's switch: it takes effect at once, no save button.
    search(page, live_server.url, "baker")
    expect(switch(page, "ann")).to_have_count(0)
    expect(switch(page, "ben")).not_to_be_checked()
    switch(page, "ben").click()
    expect(switch(page, "ben")).to_be_checked()
    expect(page.locator("#licence-seats")).to_contain_text("2 of 2 used")
    page.reload()
    expect(switch(page, "ben")).to_be_checked()
    assert Seat.objects.filter(user_guid="guid-ben").exists()

    # All seats are taken: Cat's switch is refused, with the reason next to it, and does not move.
    search(page, live_server.url, "cat")
    switch(page, "cat").click()
    message = page.locator("tr:has(input[aria-label='Licence for cat']) .licence-msg")
    expect(message).to_contain_text("Not enough seats: 2 of 2 in use, 0 free")
    expect(switch(page, "cat")).not_to_be_checked()
    screenshot(page, "licence-switch")
    page.reload()
    expect(switch(page, "cat")).not_to_be_checked()
    assert not Seat.objects.filter(user_guid="guid-cat").exists()

    # Switching Ben off frees the seat for Cat.
    search(page, live_server.url, "ben")
    switch(page, "ben").click()
    expect(switch(page, "ben")).not_to_be_checked()
    search(page, live_server.url, "cat")
    switch(page, "cat").click()
    expect(switch(page, "cat")).to_be_checked()
    assert set(Seat.objects.values_list("user_guid", flat=True)) == {"guid-ann", "guid-cat"}


def test_an_administrator_copies_the_instance_id_and_enters_a_key(page, live_server, admin_user, settings):
    from playwright.sync_api import expect

    from licensing.models import Installation, Licence
    from tests.licensing.support import ISSUER_PUBLIC, make_token

    settings.LICENSE_PUBLIC_KEY = ISSUER_PUBLIC
    instance = Installation.current().instance_id
    admin_login(page, live_server.url, "admin", "password")
    page.goto(f"{live_server.url}/admin/licensing/licence/")
    expect(page.locator("#licence-banner")).to_contain_text("No valid licence.")
    page.click("button[data-copy=instance-id]")
    assert page.evaluate("navigator.clipboard.readText()") == instance

    page.fill("#id_key", make_token(customer="ACME", seats=25))
    page.click("input[value='Check the key']")
    expect(page.locator("#licence-terms")).to_contain_text("ACME")
    page.click("input[value='Yes, enter this licence']")
    expect(page.locator("ul.messagelist")).to_contain_text("Licence entered: ACME, 25 seats")
    expect(page.locator("#licence-banner")).to_have_count(0)
    expect(page.locator("#seats-free")).to_have_text("25")
    screenshot(page, "licence-page")
    assert Licence.objects.get(active=True).entered_by == admin_user
