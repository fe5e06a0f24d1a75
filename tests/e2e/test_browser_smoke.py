"""The browser harness itself: Chromium starts and the admin login works in it."""

import pytest

from tests.e2e.conftest import admin_login


@pytest.mark.browser
def test_an_administrator_can_sign_in_to_the_admin(page, live_server, admin_user):
    admin_login(page, live_server.url, "admin", "password")
    assert "Site administration" in page.content()
