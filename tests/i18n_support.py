"""Our English and our German, as pieces that show on a page: to prove a page speaks one language only.

Taken from the catalogue itself (locale/de/LC_MESSAGES/django.po): every text the project marks for
translation whose German differs. A piece that also stands in the other language's texts (a command,
a product name, a setting) proves nothing and is left out.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import polib

PO_FILE = Path(__file__).resolve().parent.parent / "locale" / "de" / "LC_MESSAGES" / "django.po"


def fragments(text: str) -> set[str]:
    """The pieces of a catalogue text that show on a page as they are: no tags, no placeholders."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    pieces = set()
    for part in re.split(r"%\(\w+\)[sd]|\{\w+\}|%%|\n", text):
        part = " ".join(part.split()).strip(" :.,;()—–→·…“”„\"'!?")
        if len(part.split()) >= 2 or len(part) >= 6:
            pieces.add(part)
    return pieces


def _catalogue_texts() -> tuple[list[str], list[str]]:
    english, german = [], []
    for entry in polib.pofile(str(PO_FILE)):
        if entry.obsolete:
            continue
        pairs = (
            [(entry.msgid, entry.msgstr_plural[0]), (entry.msgid_plural, entry.msgstr_plural[1])]
            if entry.msgid_plural
            else [(entry.msgid, entry.msgstr)]
        )
        for source, translated in pairs:
            if source != translated:
                english.append(source)
                german.append(translated)
    return english, german


_ENGLISH, _GERMAN = _catalogue_texts()
OUR_ENGLISH = {p for t in _ENGLISH for p in fragments(t) if not any(p in g for g in _GERMAN)}
OUR_GERMAN = {p for t in _GERMAN for p in fragments(t) if not any(p in e for e in _ENGLISH)}


def ours_in(text: str, pieces: set[str]) -> list[str]:
    """The pieces that stand in `text` as whole words."""
    return sorted(p for p in pieces if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text))


def page_text(body: str) -> str:
    """What a person reads on an HTML page: its text, title, button values, placeholders and labels
    (scripts and styles left out)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    shown = re.findall(r'(?:placeholder|aria-label|title)="([^"]*)"', body)
    shown += re.findall(r'<input[^>]*type="(?:submit|button)"[^>]*value="([^"]*)"', body)
    return html.unescape(re.sub(r"<[^>]+>", "\n", body) + "\n" + "\n".join(shown))
