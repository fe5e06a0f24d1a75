"""Which language a person gets, where: the browser's, the switch's, LANGUAGE_CODE's — and where none.

Pages follow the language switch (a cookie), else Accept-Language, else LANGUAGE_CODE; the trigger
API and what it stores stay English whatever the client asks for.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import zipfile

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from licensing.models import Seat
from presence.models import EventRule, LinkStatus, OverrideRule, Preset
from triggers.models import Trigger

pytestmark = pytest.mark.django_db
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_follows_the_browsers_language(staff):
    german = staff.get("/admin/", **GERMAN).content.decode()
    assert "PBX-Verbindung" in german and "Abonnements" in german and 'lang="de"' in german
    english = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "PBX link" in english and "Subscriptions" in english and "PBX-Verbindung" not in english


def test_the_language_switch_wins_over_the_browser_and_comes_back_to_the_page(staff):
    response = staff.post(
        reverse("set_language"), {"language": "de", "next": "/admin/"}, **{"HTTP_ACCEPT_LANGUAGE": "en"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    cookie = response.cookies["django_language"]
    assert cookie.value == "de" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert "PBX-Verbindung" in staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_switch_sits_in_the_admin_and_under_the_user_page(staff, db):
    assert 'id="language-switch"' in staff.get("/admin/").content.decode()
    assert 'id="language-switch"' in Client().get("/accounts/login/").content.decode()
    assert 'id="language-switch"' in Client().get("/admin/login/").content.decode()


def test_a_language_this_service_does_not_speak_falls_back_to_language_code(staff, settings):
    body = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()
    assert "PBX link" in body
    settings.LANGUAGE_CODE = "de"
    assert "PBX-Verbindung" in staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()


def test_admin_dates_follow_the_language_in_the_servers_time_zone(staff, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    link = LinkStatus.current()
    link.since = dt.datetime(2026, 11, 29, 16, 29, tzinfo=dt.UTC)
    link.save()
    assert "seit 29.11.2026 17:29" in staff.get("/admin/", **GERMAN).content.decode()
    assert "since 2026-11-29 17:29" in staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_trigger_log_shows_stored_english_reasons_in_german(staff, alice):
    row = Trigger.objects.create(
        at=timezone.now(),
        pbx_user=alice,
        user_value="alice",
        event="lock",
        status=Trigger.Status.SKIPPED,
        reason="superseded by a newer trigger (#7)",
        decision={"rule": "event rule lock → restore", "preset": "restore"},
    )
    listing = staff.get(reverse("admin:triggers_trigger_changelist"), **GERMAN).content.decode()
    assert "durch einen neueren Trigger ersetzt (#7)" in listing and "Übersprungen" in listing
    detail = staff.get(reverse("admin:triggers_trigger_change", args=[row.pk]), **GERMAN).content.decode()
    assert "Ereignisregel lock → wiederherstellen" in detail and "Vorlage: wiederherstellen" in detail
    row.refresh_from_db()
    assert row.reason == "superseded by a newer trigger (#7)"  # the record stays English


def test_the_api_answers_in_english_whatever_the_client_asks_for(api_client, auth, make_user):
    make_user("bob", licensed=False)
    response = api_client.post("/api/v1/triggers", {"user": "bob", "event": "lock"}, format="json", **auth, **GERMAN)
    assert response.status_code == 403 and response["Content-Language"] == "en"
    assert response.json()["detail"] == "This user is not licensed: an administrator must switch their licence on."
    invalid = api_client.post("/api/v1/triggers", {"event": "lock"}, format="json", **auth, **GERMAN)
    assert invalid.json()["fields"] == {"user": ["This field is required."]}
    assert Trigger.objects.get(status="refused", http_status=403).reason.startswith("This user is not licensed")


def test_the_user_page_and_its_messages_follow_the_language(client, alice, db):
    Preset.objects.update(show_on_user_page=False)
    Preset.objects.create(name="Im Meeting", activity="busy", show_on_user_page=True)
    client.force_login(get_user_model().objects.create_user("alice", password="pw-not-used-123"))
    page = client.get("/", **GERMAN).content.decode()
    assert "Meine Präsenz setzen" in page and "Abmelden" in page and '<html lang="de">' in page
    assert '"done": "Erledigt: \\u201e{name}\\u201c ist gesetzt."' in page  # the script's sentences
    Seat.objects.filter(user_guid=alice.guid).delete()
    refused = client.post(f"/api/ui/presets/{Preset.objects.get(name='Im Meeting').pk}/press", **GERMAN)
    assert refused.json()["detail"].startswith("Dieser Benutzer ist nicht lizenziert")
    assert Trigger.objects.get().reason.startswith("This user is not licensed")  # stored English


@pytest.mark.parametrize(
    ("accept", "title", "heartbeat"),
    [
        ("de-DE,de;q=0.9", "Presence Heartbeat für Windows", "Heartbeat:   alle 7 Minuten"),
        ("en-GB,en;q=0.9", "Presence Heartbeat for Windows", "Heartbeat:   every 7 minutes"),
    ],
)
def test_a_recipes_readme_is_in_the_language_of_the_admin_who_downloads_it(staff, accept, title, heartbeat):
    response = staff.post(
        reverse("admin-integration-download", args=["windows"]),
        {"heartbeat_minutes": "7"},
        HTTP_ACCEPT_LANGUAGE=accept,
    )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        readme = archive.read("presence-heartbeat-windows/README.txt").decode("utf-8")
        script = archive.read("presence-heartbeat-windows/Send-PresenceTrigger.ps1")
    assert readme.startswith(title) and heartbeat in readme and "\r\n" in readme
    assert b"Presence Heartbeat" in script  # scripts are machine text: the same in every language


def test_a_new_installation_writes_its_default_presets_in_language_code(settings):
    """The data migration's defaults on an empty installation whose LANGUAGE_CODE is German."""
    EventRule.objects.all().delete()
    Preset.objects.all().delete()
    OverrideRule.objects.all().delete()
    settings.LANGUAGE_CODE = "de"
    defaults = importlib.import_module("presence.migrations.0002_default_presets")
    defaults.create_defaults(apps, None)
    lock = EventRule.objects.select_related("preset").get(event="lock")
    assert (lock.preset.name, lock.preset.note) == ("Abwesend – Bildschirm gesperrt", "Bildschirm gesperrt seit {time}")
    assert EventRule.objects.get(event="logon").preset.name == "Verfügbar"
    holiday = OverrideRule.objects.get()
    assert (holiday.name, holiday.note_pattern) == ("Urlaub", "Urlaub")
    assert "Lunch" not in set(Preset.objects.values_list("name", flat=True))


def test_an_english_installation_keeps_the_english_defaults():
    lock = EventRule.objects.select_related("preset").get(event="lock")
    assert (lock.preset.name, lock.preset.note) == ("Away – screen locked", "Screen locked since {time}")


def test_make_runs_hints_follow_language_code(settings, capsys):
    settings.LANGUAGE_CODE = "de"
    out = io.StringIO()
    call_command("ensureadmin", stdout=out)
    assert "Das Passwort wird nur dieses eine Mal angezeigt" in out.getvalue()
    assert "login: admin  password: " in out.getvalue()  # the line scripts read stays as it was
    from presence.demo import myapps_preview_text

    settings.MYAPPS_USER_PASSWORD = ""
    assert "myApps-Benutzer-App aus: Setzen Sie MYAPPS_USER_PASSWORD" in myapps_preview_text()


@pytest.fixture
def german_installation(settings, monkeypatch, db):
    """A German installation's own data (the defaults a German install writes, a German customer):
    the administrator's text is theirs, in their language, and proves nothing about ours."""
    from tests.licensing.support import ISSUER_PUBLIC, install_licence

    EventRule.objects.all().delete()
    Preset.objects.all().delete()
    OverrideRule.objects.all().delete()
    settings.LANGUAGE_CODE = "de"
    importlib.import_module("presence.migrations.0002_default_presets").create_defaults(apps, None)
    monkeypatch.setenv("LICENSE_PUBLIC_KEY", ISSUER_PUBLIC)
    install_licence(settings, customer="Muster GmbH")


@pytest.fixture
def admin_pages(german_installation, alice) -> list[str]:
    """Every admin page of ours, with a row to show on each (the trigger log's with a decision)."""
    trigger = Trigger.objects.create(
        at=timezone.now(),
        pbx_user=alice,
        user_value="alice",
        event="lock",
        status=Trigger.Status.SKIPPED,
        reason="outside working hours",
        decision={"rule": "event rule lock → restore", "before": {"activity": "away", "note": ""}},
    )
    pages = ["/admin/", "/admin/integration/", "/admin/licensing/licence/", "/admin/presence/"]
    for model in (Preset, EventRule, OverrideRule, Trigger, apps.get_model("presence", "PbxUser")):
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        first = model.objects.first()
        if first is not None:
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]))
    pages += [reverse("admin:presence_preset_add"), reverse("admin:presence_eventrule_add")]
    pages += [reverse("admin:triggers_apikey_changelist"), reverse("admin:triggers_apikey_add")]
    pages += [reverse("admin:presence_servicesettings_change", args=[1])]
    assert trigger.pk
    return pages


@pytest.mark.no_licence
def test_no_admin_page_of_ours_shows_our_english_to_a_german_reader(staff, admin_pages):
    from tests.i18n_support import OUR_ENGLISH, OUR_GERMAN, ours_in, page_text

    english_found, german_seen = {}, 0
    for path in admin_pages:
        response = staff.get(path, **GERMAN)
        assert response.status_code == 200, path
        text = page_text(response.content.decode())
        if found := ours_in(text, OUR_ENGLISH):
            english_found[path] = found
        german_seen += len(ours_in(text, OUR_GERMAN))
    assert english_found == {}
    assert german_seen > 50
