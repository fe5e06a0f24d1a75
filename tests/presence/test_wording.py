"""Every reason and rule text the engine, the planning and the link worker write reads in German.

The texts are made by the real code, from the engine's and the planning's own tables
(tests/presence/test_engine.py, test_planning.py): a new reason, or a changed one, that
presence.wording does not know fails here, before the admin shows it in English.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
from django.utils import translation

from presence.engine import EventRuleSpec, OverrideRuleSpec, PresetSpec, decide
from presence.planning import plan_user
from presence.wording import DECISIONS, activity_name
from tests.presence import test_engine, test_planning

MOMENT = datetime(2026, 11, 29, 16, 29, 5, tzinfo=UTC)
# The link worker's own (presence.link.worker): how a SetPresence failed.
WORKER_REASONS = ["PBX error 7: no rights", "the PBX did not answer SetPresence within 10 s"]
# triggers.queue.fan_out's, for a computer-level trigger.
FANOUT_REASONS = ["for 2 user(s) on this device: alice, bob", "nobody on this device"]


def engine_texts() -> Iterator[str]:
    for param in test_engine.CASES:
        case = param.values[0]
        decision = decide(case.trigger, case.current, case.memory, case.config, test_engine.NOW, case.sent)
        yield decision.reason
        yield decision.rule


def planning_texts() -> Iterator[str]:
    for param in test_planning.ROWS:
        row = param.values[0]
        result = plan_user(row.queue, test_planning.CONFIG, row.debounce, test_planning.NOW)
        for outcome in result.outcomes:
            yield outcome.reason
            yield outcome.details.get("rule") or ""
        if result.send is not None:
            yield result.send.details["rule"]


def written_texts() -> list[str]:
    return sorted({text for text in [*engine_texts(), *planning_texts(), *WORKER_REASONS, *FANOUT_REASONS] if text})


def test_the_tables_write_many_different_texts():
    assert len(written_texts()) > 40


def test_every_reason_and_rule_text_written_is_known_and_reads_in_german():
    texts = written_texts()
    with translation.override("de"):
        unknown = [text for text in texts if DECISIONS.translate(text) is None]
        english = [text for text in texts if DECISIONS(text) == text]
    assert unknown == []
    assert english == []


@pytest.mark.parametrize(
    ("stored", "german"),
    [
        pytest.param(
            EventRuleSpec(
                "lock", "preset", PresetSpec("Away – screen locked", "away", ""), (0, 1), time(8), time(17)
            ).describe(),
            "Ereignisregel lock → Vorlage „Away – screen locked“ (Mo,Di 08:00–17:00)",
            id="a-rule-with-its-working-hours",
        ),
        pytest.param(
            f"{EventRuleSpec('shutdown', 'preset', PresetSpec('Off', 'away', '')).describe()}; "
            f"{OverrideRuleSpec('meeting', ('dnd',), 'any', decision='override').describe()}",
            "Ereignisregel shutdown → Vorlage „Off“; Schutzregel „meeting“ (überschreiben)",
            id="a-rule-and-the-override-that-let-it-through",
        ),
        pytest.param(
            "refused: This user is not licensed: an administrator must switch their licence on.",
            "abgelehnt: Dieser Benutzer ist nicht lizenziert: Ein Administrator muss seine Lizenz einschalten.",
            id="a-licence-refusal-inside-a-reason",
        ),
        pytest.param(
            f"ordering: older than the last decided trigger ({MOMENT.isoformat()})",
            "Reihenfolge: älter als der zuletzt entschiedene Trigger (29.11.2026 17:29:05)",
            id="a-time-in-the-servers-time-zone",
        ),
        pytest.param("PBX error 7: no rights", "PBX-Fehler 7: no rights", id="the-pbxs-own-words-stay"),
    ],
)
def test_what_the_admin_shows_in_german(settings, stored, german):
    settings.TIME_ZONE = "Europe/Berlin"
    with translation.override("de"):
        assert DECISIONS(stored) == german
    with translation.override("en"):
        assert DECISIONS(stored) == stored.replace("2026-11-29T16:29:05+00:00", "2026-11-29 17:29:05")


def test_activities_are_named_in_the_language_and_others_stay_as_they_are():
    with translation.override("de"):
        assert [activity_name(a) for a in ("", "away", "busy", "dnd", "lunch")] == [
            "verfügbar",
            "abwesend",
            "beschäftigt",
            "nicht stören",
            "lunch",
        ]
