"""The integration page in a real browser: URL and warning, copy buttons, a key shown once, downloads."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.e2e.conftest import admin_login, screenshot
from triggers.models import ApiKey

pytestmark = pytest.mark.browser


@pytest.fixture
def integration_page(page, live_server, admin_user, settings):
    """Signed in as the admin, on the page, with PUBLIC_URL pointing at the (plain http) live server."""
    settings.PUBLIC_URL = live_server.url
    admin_login(page, live_server.url, "admin", "password")
    page.goto(f"{live_server.url}/admin/integration/")
    return page


def test_the_page_shows_the_trigger_url_with_the_plain_http_warning(integration_page, live_server):
    page = integration_page
    assert page.text_content("#trigger-url-value") == f"{live_server.url}/api/v1/triggers"
    warnings = page.locator(".url-warning").all_text_contents()
    assert len(warnings) == 1 and "plain http" in warnings[0]


def test_a_copy_button_puts_the_curl_line_on_the_clipboard(integration_page, live_server):
    page = integration_page
    page.click("#one-liner-curl button.copy")
    page.wait_for_function("document.querySelector('#one-liner-curl button.copy').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl -sS ") and f"{live_server.url}/api/v1/triggers" in copied
    assert '"user=$USER"' in copied and "REPLACE-WITH-YOUR-API-KEY" in copied


def test_a_new_key_is_shown_once_and_the_downloads_carry_it(integration_page, live_server):
    page = integration_page
    page.select_option("#id_os", "linux")
    page.click("#new-key-form button[type=submit]")
    key = page.text_content("#clear-key")
    row = ApiKey.objects.get()
    assert row.name.startswith("recipe linux ") and key.startswith(f"phk_{row.prefix}_")

    page.click("#one-liner-powershell button.copy")
    page.wait_for_function("document.querySelector('#one-liner-powershell button.copy').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Invoke-RestMethod ") and f"Bearer {key}" in copied and "$env:USERNAME" in copied

    with page.expect_download() as info:
        page.click("#download-linux button[type=submit]")
    download = info.value
    assert download.suggested_filename == "presence-heartbeat-linux.zip"
    archive = zipfile.ZipFile(io.BytesIO(download.path().read_bytes()))
    assert archive.read("presence-heartbeat-linux/key").decode().strip() == key
    script = archive.read("presence-heartbeat-linux/presence-heartbeat.sh").decode()
    assert f"DEFAULT_URL={live_server.url}/api/v1/triggers\n" in script

    with page.expect_download() as info:
        page.click("#download-windows button[type=submit]")
    archive = zipfile.ZipFile(io.BytesIO(info.value.path().read_bytes()))
    assert archive.read("presence-heartbeat-windows/key.txt").decode().strip() == key
    assert f"'{live_server.url}/api/v1/triggers'" in archive.read(
        "presence-heartbeat-windows/Send-PresenceTrigger.ps1"
    ).decode("utf-8")
    screenshot(page, "integration-page")

    page.reload()
    assert page.url == f"{live_server.url}/admin/integration/"
    assert page.locator("#new-key").count() == 0
    assert key not in page.content()
    assert ApiKey.objects.count() == 1, "the reload did not post the form again"
