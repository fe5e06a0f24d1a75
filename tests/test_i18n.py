"""The German catalogue: complete, current and compiled — so that no new text slips in untranslated.

`make messages` extracts the texts (Django's makemessages) and compiles them; these tests fail when
someone adds or changes a text without running it and translating what it marks new or fuzzy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# What `make messages` leaves out (the Makefile's MESSAGES_IGNORE): text nobody reads in the service.
NOT_SCANNED = {"tests", "var", "test-output", "deploy", "docs", "locale", "node_modules"}


def catalogue() -> polib.POFile:
    return polib.pofile(str(PO_FILE))


def key(entry: polib.POEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def test_every_text_has_a_german_translation_that_is_neither_missing_nor_fuzzy():
    po = catalogue()
    missing = [entry.msgid for entry in po if not entry.obsolete and not entry.translated()]
    fuzzy = [entry.msgid for entry in po if not entry.obsolete and "fuzzy" in entry.flags]
    assert missing == [] and fuzzy == [], "translate these in locale/de/LC_MESSAGES/django.po"
    assert len(po) > 500  # the whole service, not the myApps apps alone


def test_plural_texts_have_both_german_forms():
    gaps = [
        entry.msgid
        for entry in catalogue()
        if entry.msgid_plural and not all(entry.msgstr_plural.get(n) for n in (0, 1))
    ]
    assert gaps == []


def test_the_catalogue_holds_exactly_the_texts_the_code_and_templates_mark(tmp_path):
    """makemessages over a copy of the project: a text marked for translation but missing from the
    committed catalogue (or one the catalogue keeps that nothing uses any more) fails here."""
    if shutil.which("xgettext") is None:
        pytest.skip("xgettext (Debian's gettext) is not installed")
    copy = tmp_path / "project"
    copy.mkdir()
    for item in ROOT.iterdir():
        if item.name in NOT_SCANNED or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, copy / item.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, copy / item.name)
    (copy / "locale" / "de" / "LC_MESSAGES").mkdir(parents=True)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale=de", "--settings=heartbeat_site.settings_test"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    extracted = {key(entry) for entry in polib.pofile(str(copy / "locale" / "de" / "LC_MESSAGES" / "django.po"))}
    committed = {key(entry) for entry in catalogue() if not entry.obsolete}
    assert sorted(extracted - committed) == [], "new texts: run `make messages` and translate them"
    assert sorted(committed - extracted) == [], "texts nothing uses any more: run `make messages`"


def test_the_committed_compiled_catalogue_is_compiled_from_the_po_file(tmp_path):
    """The .mo is committed (make run needs no gettext): it must be the .po's, not an older one."""
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (Debian's gettext) is not installed")
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(PO_FILE)], check=True)
    assert compiled.read_bytes() == MO_FILE.read_bytes(), "django.mo is stale: run `make messages`"


def test_the_compiled_catalogue_is_the_one_django_reads():
    with translation.override("de"):
        assert translation.gettext("Set my presence") == "Meine Präsenz setzen"
        assert translation.gettext("Trigger URL") == "Trigger-URL"
    with translation.override("en"):
        assert translation.gettext("Trigger URL") == "Trigger URL"
