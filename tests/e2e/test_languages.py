"""German and English in a real browser: Debian's chromium with a German (or English) locale against
the real server (runheartbeat + PBX simulator), nothing mocked.

"No English string of ours" is checked against the catalogue itself (tests/i18n_support.py): every
English text the project marks for translation whose German differs must be absent from what the
German page shows — its text, its title, its buttons' values, placeholders and labels.
The English pages are checked the other way round: our English is there, none of our German.
The data on the pages is the administrator's own (presets, the licence's customer), in German here.

DOCS_SCREENSHOTS=1 also writes the German user page and integration page into docs/screenshots/.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from presence.models import Preset
from tests.e2e.conftest import BROWSER_WAIT_MS, OUTPUT, admin_login, evidence
from tests.e2e.test_user_page import PASSWORD, sign_in, subscribed
from tests.i18n_support import OUR_ENGLISH, OUR_GERMAN, ours_in
from tests.licensing.support import install_licence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.no_licence]

ADMIN_PASSWORD = "a long admin password"
# What the browser shows besides the text: titles, button values, placeholders, accessible labels.
SHOWN_BESIDES_TEXT = """() => [document.title, ...Array.from(
  document.querySelectorAll("[placeholder], [aria-label], input[type=submit], input[type=button]"),
  (e) => e.getAttribute("placeholder") || e.getAttribute("aria-label") || e.value)].join("\\n")"""


def shown(page) -> str:
    return page.inner_text("body") + "\n" + page.evaluate(SHOWN_BESIDES_TEXT)


@pytest.fixture
def browser_in(chromium, request):
    """`browser_in("de-DE")`: a page of a browser context with that locale (its Accept-Language too)."""
    contexts = []

    def open_page(locale: str):
        context = chromium.new_context(locale=locale, viewport={"width": 1200, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(BROWSER_WAIT_MS)
        return page

    yield open_page
    report = getattr(request.node, "rep_call", None)
    for n, context in enumerate(contexts):
        if report is not None and report.failed and context.pages:
            OUTPUT.mkdir(exist_ok=True)
            context.pages[0].screenshot(path=str(OUTPUT / f"FAILED-{request.node.name}-{n}.png"), full_page=True)
        context.close()


@pytest.fixture
def german_licence(settings, monkeypatch, transactional_db):
    """A licence for a German customer (the administrator's own text), before `server`, so that the
    server trusts the same licence issuer."""
    from tests.licensing.support import ISSUER_PUBLIC

    monkeypatch.setenv("LICENSE_PUBLIC_KEY", ISSUER_PUBLIC)
    return install_licence(settings, customer="Muster GmbH", seats=500)


@pytest.fixture
def german_buttons(server) -> dict[str, Preset]:
    """The administrator's own buttons, in German (after `server`, whose rules start from none)."""
    return {
        "meeting": Preset.objects.create(
            name="Im Kundentermin", activity="busy", note="Bitte später anrufen", show_on_user_page=True, order=1
        ),
        "pause": Preset.objects.create(name="Kurz weg", activity="away", show_on_user_page=True, order=2),
    }


@pytest.fixture
def person(sim_users, transactional_db):
    get_user_model().objects.create_user(sim_users[0].h323, password=PASSWORD)
    return sim_users[0]


@pytest.fixture
def admin_account(transactional_db):
    get_user_model().objects.create_superuser("admin", "", ADMIN_PASSWORD)


def test_the_catalogue_gives_the_browser_checks_plenty_to_look_for():
    assert len(OUR_ENGLISH) > 300 and len(OUR_GERMAN) > 300
    assert "Set my presence" in OUR_ENGLISH and "Meine Präsenz setzen" in OUR_GERMAN


def user_page_and_a_press(page, server, sim, person, name: str) -> None:
    subscribed(person)
    sign_in(page, server, person.h323)
    page.get_by_role("button", name=name).click()


def test_the_user_page_and_a_button_press_in_german(browser_in, german_licence, server, german_buttons, sim, person):
    page = browser_in("de-DE")
    user_page_and_a_press(page, server, sim, person, "Im Kundentermin")
    expect(page.locator("#status")).to_have_text("Erledigt: „Im Kundentermin“ ist gesetzt.")
    expect(page.locator("#presence-label")).to_have_text("Beschäftigt")
    assert page.locator("html").get_attribute("lang") == "de"
    text = shown(page)
    assert "Meine Präsenz setzen" in text and "Abmelden" in text
    assert ours_in(text, OUR_ENGLISH) == []
    assert len(ours_in(text, OUR_GERMAN)) >= 3  # the same check finds what is there
    evidence(page, "userpage-de")


def test_the_user_page_and_a_button_press_in_english_are_unchanged(
    browser_in, german_licence, server, german_buttons, sim, person
):
    page = browser_in("en-US")
    user_page_and_a_press(page, server, sim, person, "Kurz weg")
    expect(page.locator("#status")).to_have_text("Done: “Kurz weg” is set.")
    expect(page.locator("#presence-label")).to_have_text("Away")
    text = shown(page)
    assert "Set my presence" in text and "Sign out" in text
    assert ours_in(text, OUR_GERMAN) == []
    assert len(ours_in(text, OUR_ENGLISH)) >= 3  # the same check finds what is there


ADMIN_PAGES = [
    # (path, what must show in German, what in English)
    ("/admin/", ["PBX-Verbindung", "verbunden", "Abonnements"], ["PBX link", "connected", "Subscriptions"]),
    (
        "/admin/integration/",
        ["Trigger-URL", "Zeilen zum Kopieren", "Rezepte zum Verteilen"],
        ["Trigger URL", "Copy-paste lines", "Recipes to deploy"],
    ),
    (
        "/admin/licensing/licence/",
        ["Lizenziert für Muster GmbH", "Diese Installation", "Lizenzschlüssel eintragen"],
        ["Licensed to Muster GmbH", "This installation", "Enter a licence key"],
    ),
]


@pytest.mark.parametrize(("locale", "language"), [("de-DE", 1), ("en-US", 2)], ids=["german", "english"])
def test_the_admin_index_integration_and_licence_pages(
    browser_in, german_licence, server, admin_account, locale, language
):
    page = browser_in(locale)
    admin_login(page, server.url, "admin", ADMIN_PASSWORD)
    for path, *expected in ADMIN_PAGES:
        page.goto(f"{server.url}{path}")
        text = shown(page)
        missing = [words for words in expected[language - 1] if words not in text]
        assert missing == [], f"{path}: {missing}"
        assert ours_in(text, OUR_ENGLISH if language == 1 else OUR_GERMAN) == [], path
        assert len(ours_in(text, OUR_GERMAN if language == 1 else OUR_ENGLISH)) >= 3, path
        if language == 1 and path == "/admin/integration/":
            evidence(page, "integration-de")
    if language == 1:
        # The switch beside the user links: English from here on, whatever the browser asks for.
        page.get_by_role("button", name="English").click()
        expect(page.locator("#instance h2")).to_have_text("This installation")
        assert ours_in(shown(page), OUR_GERMAN) == []
