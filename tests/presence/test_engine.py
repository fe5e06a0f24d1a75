"""The decision engine as a pure function: a table of triggers, presences, memories and what must happen."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest

from presence.engine import (
    EngineConfig,
    EventRuleSpec,
    OverrideRuleSpec,
    Presence,
    PresetSpec,
    Sent,
    TriggerInput,
    UserMemory,
    decide,
    detect_manual_change,
    render_note,
)

MON_0900 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW = MON_0900 + timedelta(seconds=2)
EARLIER = MON_0900 - timedelta(hours=1)
LAST = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)  # the Sunday evening before: the last trigger decided
BERLIN_WINTER = timezone(timedelta(hours=1), "CET")

AVAILABLE = PresetSpec("Available", "", "")
LOCKED = PresetSpec("Away – screen locked", "away", "Screen locked since {time}")
LOGGED_OFF = PresetSpec("Away – logged off", "away", "Logged off")
SHUT_DOWN = PresetSpec("Offline – shut down", "away", "Computer off since {date} {time}")
ASLEEP = PresetSpec("Away – computer asleep", "away", "Computer asleep since {time}")
BUSY_PRESET = PresetSpec("Busy", "busy", "")
LUNCH = PresetSpec("Lunch", "away", "At lunch")

P_AVAILABLE = Presence("", "")
P_LOCKED_0800 = Presence("away", "Screen locked since 08:00")
P_LOCKED_0900 = Presence("away", "Screen locked since 09:00")
P_SHUT_DOWN_0900 = Presence("away", "Computer off since 2026-03-02 09:00")
P_ASLEEP_0800 = Presence("away", "Computer asleep since 08:00")
P_ASLEEP_0900 = Presence("away", "Computer asleep since 09:00")
P_HOLIDAY = Presence("away", "On holiday until 9 March")
P_MEETING = Presence("dnd", "Online meeting")
P_DND = Presence("dnd", "Focus time")
P_BUSY = Presence("busy", "")

RULES = {
    "logon": EventRuleSpec("logon", "preset", AVAILABLE),
    "unlock": EventRuleSpec("unlock", "restore"),
    "lock": EventRuleSpec("lock", "preset", LOCKED),
    "logoff": EventRuleSpec("logoff", "preset", LOGGED_OFF),
    "shutdown": EventRuleSpec("shutdown", "preset", SHUT_DOWN),
    "heartbeat-lost": EventRuleSpec("heartbeat-lost", "preset", SHUT_DOWN),
    "sleep": EventRuleSpec("sleep", "preset", ASLEEP),
    "resume": EventRuleSpec("resume", "restore"),
    "startup": EventRuleSpec("startup", "nothing"),
    "meeting-room": EventRuleSpec("meeting-room", "preset", BUSY_PRESET),
    "kiosk": EventRuleSpec("kiosk", "nothing"),
    "broken": EventRuleSpec("broken", "preset", None),
}
HOLIDAY = OverrideRuleSpec("holiday", ("away",), "contains", "holiday")
MEETING_ON_SHUTDOWN = OverrideRuleSpec(
    "online meeting ends on shutdown", ("dnd",), "contains", "online meeting", events=("shutdown",), decision="override"
)
DND = OverrideRuleSpec("dnd", ("dnd",), "any")
CONFIG = EngineConfig(rules=RULES, overrides=(HOLIDAY, MEETING_ON_SHUTDOWN, DND))
WEEKDAYS = (0, 1, 2, 3, 4)
OFFICE_HOURS = replace(
    CONFIG, rules={**RULES, "logon": EventRuleSpec("logon", "preset", AVAILABLE, WEEKDAYS, time(7), time(19))}
)
NIGHT_SHIFT = replace(
    CONFIG, rules={**RULES, "logon": EventRuleSpec("logon", "preset", AVAILABLE, WEEKDAYS, time(22), time(6))}
)


def with_overrides(*rules: OverrideRuleSpec, **changes: Any) -> EngineConfig:
    return replace(CONFIG, overrides=rules, **changes)


def ours(presence: Presence | None, **changes: Any) -> UserMemory:
    """A memory in which this service set `presence` last night (so the PBX showing it is no manual change)."""
    return UserMemory(set_presence=presence, set_at=LAST, last_event_at=LAST, **changes)


def at(hour: int, minute: int = 0, *, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def trigger(event: str, when: datetime = MON_0900, **changes: Any) -> TriggerInput:
    return TriggerInput(event=event, at=when, device="PC-042", **changes)


def button(preset: PresetSpec, when: datetime = MON_0900) -> TriggerInput:
    return TriggerInput(event="button", at=when, source="button", preset=preset)


@dataclass(frozen=True)
class Case:
    trigger: TriggerInput
    current: Presence | None
    memory: UserMemory
    outcome: str
    reason: str = ""
    target: Presence | None = None
    config: EngineConfig = CONFIG
    remembers: dict[str, Any] = field(default_factory=dict)  # memory fields the decision must return
    rule: str = ""  # a piece of the rule description
    sent: tuple[Sent, ...] = ()  # presences sent whose answer was never recorded


UNTOUCHED = object()  # remembers={"memory": UNTOUCHED}: the memory comes back exactly as it went in

CASES = [
    # --- ordering and duplicates -------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("lock", LAST - timedelta(seconds=1)),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "skip",
            "stale",
            remembers={"memory": UNTOUCHED},
            rule="older than the last decided trigger",
        ),
        id="it_skips_a_trigger_older_than_the_last_decided_one",
    ),
    pytest.param(
        Case(
            trigger("lock", LAST),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "set",
            target=Presence("away", "Screen locked since 18:00"),
        ),
        id="it_decides_a_trigger_as_old_as_the_last_decided_one",
    ),
    pytest.param(
        Case(
            trigger("logon"),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "skip",
            "unchanged",
            remembers={"last_event_at": MON_0900, "set_at": LAST},
        ),
        id="it_skips_the_presence_already_shown_but_remembers_the_trigger",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_LOCKED_0900,
            UserMemory(),
            "skip",
            "unchanged",
            remembers={"set_presence": P_LOCKED_0900, "set_at": NOW},
        ),
        id="it_adopts_an_unchanged_presence_as_its_own",
    ),
    # --- event rules ---------------------------------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("logon"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "set",
            target=P_AVAILABLE,
            remembers={"set_presence": P_AVAILABLE, "set_at": NOW, "last_event_at": MON_0900},
            rule="event rule logon → preset 'Available'",
        ),
        id="it_sets_available_on_logon",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "set",
            target=P_LOCKED_0900,
            rule="event rule lock → preset 'Away – screen locked'",
        ),
        id="it_sets_screen_locked_with_the_time_on_lock",
    ),
    pytest.param(
        Case(trigger("logoff"), P_AVAILABLE, ours(P_AVAILABLE), "set", target=Presence("away", "Logged off")),
        id="it_sets_logged_off_on_logoff",
    ),
    pytest.param(
        Case(trigger("shutdown"), P_AVAILABLE, ours(P_AVAILABLE), "set", target=P_SHUT_DOWN_0900),
        id="it_sets_offline_with_date_and_time_on_shutdown",
    ),
    pytest.param(
        Case(
            trigger("heartbeat-lost"),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "set",
            target=P_SHUT_DOWN_0900,
            rule="event rule heartbeat-lost",
        ),
        id="it_applies_the_heartbeat_lost_rule_like_any_event",
    ),
    pytest.param(
        Case(trigger("meeting-room"), P_AVAILABLE, ours(P_AVAILABLE), "set", target=P_BUSY),
        id="it_applies_a_custom_event_rule",
    ),
    pytest.param(
        Case(
            trigger("coffee"),
            P_AVAILABLE,
            ours(P_AVAILABLE),
            "skip",
            "no rule",
            remembers={"last_event_at": MON_0900},
            rule="no event rule for 'coffee'",
        ),
        id="it_skips_an_event_without_a_rule",
    ),
    pytest.param(
        Case(trigger("kiosk"), P_AVAILABLE, ours(P_AVAILABLE), "skip", "rule: do nothing", rule="do nothing"),
        id="it_does_nothing_when_the_rule_says_so",
    ),
    pytest.param(
        Case(trigger("broken"), P_AVAILABLE, ours(P_AVAILABLE), "skip", "no rule"),
        id="it_skips_a_preset_rule_that_names_no_preset",
    ),
    # --- working hours -------------------------------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("logon", at(9)), P_LOCKED_0800, ours(P_LOCKED_0800), "set", target=P_AVAILABLE, config=OFFICE_HOURS
        ),
        id="it_acts_inside_working_hours",
    ),
    pytest.param(
        Case(
            trigger("logon", at(6, 59)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "skip",
            "outside working hours",
            config=OFFICE_HOURS,
            rule="Mon,Tue,Wed,Thu,Fri 07:00–19:00",
        ),
        id="it_does_nothing_on_logon_before_working_hours",
    ),
    pytest.param(
        Case(
            trigger("logon", at(7)), P_LOCKED_0800, ours(P_LOCKED_0800), "set", target=P_AVAILABLE, config=OFFICE_HOURS
        ),
        id="it_counts_the_window_start_as_inside",
    ),
    pytest.param(
        Case(
            trigger("logon", at(19)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "skip",
            "outside working hours",
            config=OFFICE_HOURS,
        ),
        id="it_counts_the_window_end_as_outside",
    ),
    pytest.param(
        Case(
            trigger("logon", at(10, day=7)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "skip",
            "outside working hours",
            config=OFFICE_HOURS,
        ),
        id="it_does_nothing_on_a_day_outside_the_window",
    ),
    pytest.param(
        Case(
            trigger("logon", at(6, 30)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "set",
            target=P_AVAILABLE,
            config=replace(OFFICE_HOURS, tz=BERLIN_WINTER),
        ),
        id="it_reads_the_window_in_the_configured_time_zone",
    ),
    pytest.param(
        Case(
            trigger("logon", at(22, 30)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "set",
            target=P_AVAILABLE,
            config=NIGHT_SHIFT,
        ),
        id="it_acts_in_a_night_window_before_midnight",
    ),
    pytest.param(
        Case(
            trigger("logon", at(2, day=7)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "set",
            target=P_AVAILABLE,
            config=NIGHT_SHIFT,
        ),
        id="it_acts_after_midnight_in_a_night_that_began_on_a_window_day",
    ),
    pytest.param(
        Case(
            trigger("logon", at(2, day=2)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "skip",
            "outside working hours",
            config=NIGHT_SHIFT,
        ),
        id="it_does_not_act_after_midnight_in_a_night_that_began_on_another_day",
    ),
    pytest.param(
        Case(
            trigger("logon", at(12)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "skip",
            "outside working hours",
            config=NIGHT_SHIFT,
        ),
        id="it_does_not_act_between_the_end_and_the_start_of_a_night_window",
    ),
    # --- override rules ------------------------------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("shutdown"),
            P_HOLIDAY,
            ours(P_AVAILABLE),
            "skip",
            "protected: holiday",
            rule="override rule 'holiday' (protect)",
            config=with_overrides(HOLIDAY, manual_wins=False),
        ),
        id="it_keeps_holiday_presence_on_shutdown",
    ),
    pytest.param(
        Case(trigger("logon"), P_HOLIDAY, ours(P_HOLIDAY), "skip", "protected: holiday"),
        id="it_keeps_holiday_presence_on_logon",
    ),
    pytest.param(
        Case(
            trigger("heartbeat-lost"),
            Presence("away", "HOLIDAY – back Monday"),
            ours(P_AVAILABLE),
            "skip",
            "protected: holiday",
        ),
        id="it_matches_a_holiday_note_in_any_letter_case",
    ),
    pytest.param(
        Case(
            trigger("shutdown"),
            P_MEETING,
            ours(P_MEETING),
            "set",
            target=P_SHUT_DOWN_0900,
            rule="override rule 'online meeting ends on shutdown' (override)",
        ),
        id="it_overrides_dnd_online_meeting_on_shutdown",
    ),
    pytest.param(
        Case(trigger("lock"), P_MEETING, ours(P_MEETING), "skip", "protected: dnd"),
        id="it_protects_dnd_online_meeting_on_other_events",
    ),
    pytest.param(
        Case(trigger("shutdown"), P_DND, ours(P_DND), "skip", "protected: dnd"),
        id="it_protects_other_dnd_notes_on_shutdown",
    ),
    pytest.param(
        Case(trigger("lock"), P_BUSY, ours(P_BUSY), "set", target=P_LOCKED_0900),
        id="it_overrides_when_no_override_rule_matches",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_DND,
            ours(P_DND),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("let dnd go", ("dnd",), "any", decision="override"), DND),
        ),
        id="it_takes_the_first_matching_override_rule",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            Presence("", "In the office"),
            ours(Presence("", "In the office")),
            "skip",
            "protected: office",
            config=with_overrides(OverrideRuleSpec("office", ("",), "contains", "office")),
        ),
        id="it_matches_available_as_the_empty_activity",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            Presence("away", " On Leave "),
            ours(Presence("away", " On Leave ")),
            "skip",
            "protected: leave",
            config=with_overrides(OverrideRuleSpec("leave", ("away",), "exact", "on leave")),
        ),
        id="it_protects_an_exact_note_in_any_letter_case",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            Presence("away", "on leave soon"),
            ours(Presence("away", "on leave soon")),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("leave", ("away",), "exact", "on leave")),
        ),
        id="it_does_not_protect_a_note_that_only_contains_the_exact_text",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            Presence("busy", "Call with ACME #4711"),
            ours(Presence("busy", "Call with ACME #4711")),
            "skip",
            "protected: calls",
            config=with_overrides(OverrideRuleSpec("calls", ("busy", "dnd"), "regex", r"^call with .+ #\d+$")),
        ),
        id="it_matches_a_note_by_regex_for_one_of_several_activities",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            Presence("busy", "call (urgent"),
            ours(Presence("busy", "call (urgent")),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("broken", ("busy",), "regex", "call (urgent")),
        ),
        id="it_never_matches_a_broken_regex",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_HOLIDAY,
            ours(P_HOLIDAY),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("holiday on shutdown", ("away",), "any", events=("shutdown",))),
        ),
        id="it_ignores_an_override_rule_for_other_events",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_HOLIDAY,
            ours(P_HOLIDAY),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("nothing", (), "any")),
        ),
        id="it_never_matches_an_override_rule_without_activities",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            None,
            UserMemory(),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(OverrideRuleSpec("available", ("",), "any")),
        ),
        id="it_protects_nothing_when_the_pbx_reports_no_presence",
    ),
    # --- manual wins ---------------------------------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("lock"),
            P_BUSY,
            ours(P_AVAILABLE),
            "skip",
            "manual change protected",
            remembers={"manual_since": NOW, "last_event_at": MON_0900, "set_presence": P_AVAILABLE},
            rule="manual wins",
        ),
        id="it_protects_a_presence_changed_by_hand",
    ),
    pytest.param(
        Case(
            trigger("shutdown"),
            P_AVAILABLE,
            ours(P_AVAILABLE, manual_since=EARLIER),
            "skip",
            "manual change protected",
            remembers={"manual_since": EARLIER},
        ),
        id="it_keeps_protecting_a_manual_change_until_the_next_logon",
    ),
    pytest.param(
        Case(
            trigger("logon"),
            P_BUSY,
            ours(P_AVAILABLE, manual_since=EARLIER),
            "set",
            target=P_AVAILABLE,
            remembers={"manual_since": None},
        ),
        id="it_ends_manual_protection_on_logon",
    ),
    pytest.param(
        Case(
            trigger("logon", at(6)),
            P_BUSY,
            ours(P_LOCKED_0800, manual_since=EARLIER),
            "skip",
            "outside working hours",
            config=OFFICE_HOURS,
            remembers={"manual_since": None, "set_presence": P_BUSY, "set_at": NOW},
        ),
        id="it_ends_manual_protection_on_a_logon_that_changes_nothing",
    ),
    pytest.param(
        Case(
            trigger("shutdown"),
            P_MEETING,
            ours(P_AVAILABLE, manual_since=EARLIER),
            "set",
            target=P_SHUT_DOWN_0900,
            remembers={"manual_since": None},
        ),
        id="it_lets_an_override_rule_beat_a_manual_change",
    ),
    pytest.param(
        Case(
            trigger("lock"), P_HOLIDAY, ours(P_AVAILABLE), "skip", "protected: holiday", remembers={"manual_since": NOW}
        ),
        id="it_names_the_protect_rule_before_manual_wins",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_BUSY,
            ours(P_AVAILABLE, manual_since=EARLIER),
            "set",
            target=P_LOCKED_0900,
            config=replace(CONFIG, manual_wins=False),
            remembers={"saved": P_BUSY},
        ),
        id="it_replaces_a_manual_change_when_manual_wins_is_off",
    ),
    pytest.param(
        Case(trigger("lock"), P_BUSY, UserMemory(), "set", target=P_LOCKED_0900, remembers={"manual_since": None}),
        id="it_sees_no_manual_change_before_it_set_anything",
    ),
    # --- button presses -----------------------------------------------------------------------------------------
    pytest.param(
        Case(
            button(LUNCH),
            P_BUSY,
            ours(P_AVAILABLE, manual_since=EARLIER),
            "set",
            target=Presence("away", "At lunch"),
            remembers={"manual_since": None, "set_presence": Presence("away", "At lunch")},
            rule="button: preset 'Lunch'",
        ),
        id="it_applies_a_button_press_over_a_manual_change",
    ),
    pytest.param(
        Case(button(AVAILABLE), P_HOLIDAY, ours(P_HOLIDAY), "set", target=P_AVAILABLE),
        id="it_applies_a_button_press_over_a_protect_rule",
    ),
    pytest.param(
        Case(
            button(AVAILABLE, LAST - timedelta(seconds=3)),
            P_LOCKED_0800,
            ours(P_LOCKED_0800),
            "set",
            target=P_AVAILABLE,
            remembers={"last_event_at": LAST},
        ),
        id="it_applies_a_button_press_behind_a_device_clock_that_runs_ahead",
    ),
    pytest.param(
        Case(
            button(AVAILABLE),
            P_AVAILABLE,
            ours(P_LOCKED_0800, manual_since=EARLIER),
            "skip",
            "unchanged",
            remembers={"manual_since": None, "set_presence": P_AVAILABLE},
        ),
        id="it_skips_a_button_press_for_the_presence_already_shown",
    ),
    # --- restore on unlock ---------------------------------------------------------------------------------------
    pytest.param(
        Case(
            trigger("lock"),
            P_BUSY,
            ours(P_BUSY, set_by="button"),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": P_BUSY, "set_by": "lock"},
        ),
        id="it_remembers_on_lock_the_presence_it_replaced",
    ),
    pytest.param(
        Case(trigger("lock"), P_BUSY, UserMemory(), "set", target=P_LOCKED_0900, remembers={"saved": P_BUSY}),
        id="it_remembers_on_lock_a_presence_it_never_set",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_BUSY,
            ours(P_BUSY, set_by="restore"),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": P_BUSY},
        ),
        id="it_remembers_on_lock_the_users_presence_that_an_unlock_put_back",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_AVAILABLE,
            ours(P_AVAILABLE, set_by="logon"),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": None},
        ),
        id="it_never_saves_its_own_preset_on_lock",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            None,
            ours(P_AVAILABLE, set_by="logon"),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": None},
            rule="presence unknown",
        ),
        id="it_decides_a_lock_with_presence_unknown_and_saves_nothing",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_LOCKED_0800,
            ours(P_AVAILABLE, set_by="logon"),
            "skip",
            "already locked",
            sent=(Sent("lock", P_BUSY, P_LOCKED_0800),),
            remembers={"saved": P_BUSY, "set_presence": P_LOCKED_0800, "set_by": "lock"},
        ),
        id="it_saves_what_an_unconfirmed_lock_replaced_never_the_lock_itself",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_LOCKED_0800,
            ours(P_AVAILABLE, set_by="logon"),
            "set",
            target=P_BUSY,
            sent=(Sent("lock", P_BUSY, P_LOCKED_0800),),
            remembers={"saved": None, "set_by": "restore"},
        ),
        id="it_restores_after_a_lock_whose_answer_was_lost",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_BUSY, set_by="lock"),
            "skip",
            "already locked",
            remembers={"saved": P_BUSY, "set_presence": P_LOCKED_0800},
        ),
        id="it_skips_a_second_lock_while_locked_and_keeps_the_first_time",
    ),
    pytest.param(
        Case(
            trigger("lock", MON_0900 + timedelta(minutes=1)),
            P_LOCKED_0900,
            ours(P_LOCKED_0900, saved=P_BUSY, set_by="lock"),
            "skip",
            "already locked",
            remembers={"saved": P_BUSY, "set_presence": P_LOCKED_0900},
        ),
        id="it_skips_a_second_lock_in_the_next_minute",
    ),
    pytest.param(
        Case(
            trigger("logoff"),
            Presence("away", "Logged off"),
            ours(Presence("away", "Logged off"), set_by="logoff"),
            "skip",
            "already logged off",
        ),
        id="it_skips_a_repeated_logoff",
    ),
    pytest.param(
        Case(
            trigger("shutdown"),
            Presence("away", "Computer off since 2026-03-01 18:00"),
            ours(Presence("away", "Computer off since 2026-03-01 18:00"), set_by="shutdown"),
            "skip",
            "already shut down",
        ),
        id="it_skips_a_repeated_shutdown",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_DND,
            ours(P_LOCKED_0800, saved=P_BUSY, set_by="lock"),
            "set",
            target=P_LOCKED_0900,
            config=with_overrides(manual_wins=False),
            remembers={"saved": P_DND},
        ),
        id="it_locks_again_once_the_lock_presence_no_longer_shows",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, set_by="lock"),
            "set",
            target=P_AVAILABLE,
            rule="nothing to restore: fallback 'Available'",
            remembers={"set_by": "fallback", "saved": None},
        ),
        id="it_falls_back_to_available_on_unlock_when_the_lock_saved_nothing",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, set_by="lock"),
            "set",
            target=Presence("", "At my desk since 09:00"),
            config=replace(CONFIG, fallback=PresetSpec("Back", "", "At my desk since {time}")),
            rule="fallback 'Back'",
        ),
        id="it_falls_back_to_the_preset_the_admin_chose",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            None,
            ours(P_LOCKED_0800, set_by="lock"),
            "set",
            target=P_AVAILABLE,
            rule="presence unknown",
        ),
        id="it_falls_back_on_unlock_when_the_presence_is_unknown",
    ),
    pytest.param(
        Case(trigger("unlock"), None, ours(P_LOCKED_0800, saved=P_BUSY, set_by="lock"), "set", target=P_BUSY),
        id="it_restores_on_unlock_when_the_presence_is_unknown",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_AVAILABLE,
            ours(P_LOCKED_0800, set_by="lock"),
            "skip",
            "nothing to restore",
            config=with_overrides(manual_wins=False),
        ),
        id="it_leaves_a_presence_changed_since_an_unsaved_lock",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_BUSY),
            "set",
            target=P_BUSY,
            remembers={"saved": None, "set_presence": P_BUSY},
            rule="event rule unlock → restore",
        ),
        id="it_restores_on_unlock_what_lock_replaced",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_DND,
            ours(P_LOCKED_0800, saved=P_AVAILABLE),
            "skip",
            "restore: presence changed since lock",
            config=with_overrides(manual_wins=False),
            remembers={"saved": None},
        ),
        id="it_does_not_restore_a_presence_that_changed_since_lock",
    ),
    pytest.param(
        Case(
            trigger("unlock"),
            P_DND,
            ours(P_LOCKED_0800, saved=P_AVAILABLE),
            "skip",
            "manual change protected",
            config=with_overrides(),
        ),
        id="it_protects_a_presence_changed_by_hand_while_locked",
    ),
    pytest.param(
        Case(trigger("unlock"), P_AVAILABLE, ours(P_AVAILABLE), "skip", "nothing to restore"),
        id="it_has_nothing_to_restore_without_a_lock",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_AVAILABLE),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": None},
        ),
        id="it_saves_nothing_over_a_lock_presence_of_unknown_origin",
    ),
    pytest.param(
        Case(
            trigger("logoff"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_AVAILABLE),
            "set",
            target=Presence("away", "Logged off"),
            remembers={"saved": None},
        ),
        id="it_forgets_what_lock_saved_when_another_event_changes_the_presence",
    ),
    pytest.param(
        Case(
            trigger("coffee"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_AVAILABLE),
            "skip",
            "no rule",
            remembers={"saved": P_AVAILABLE},
        ),
        id="it_keeps_what_lock_saved_when_an_event_changes_nothing",
    ),
    # --- computer-level events: sleep behaves like lock, resume like unlock, startup does nothing ---------------
    pytest.param(
        Case(
            trigger("sleep"),
            P_BUSY,
            ours(P_BUSY, set_by="button"),
            "set",
            target=P_ASLEEP_0900,
            remembers={"saved": P_BUSY, "set_by": "sleep"},
            rule="event rule sleep → preset 'Away – computer asleep'",
        ),
        id="it_sets_computer_asleep_with_the_time_on_sleep_and_remembers_what_it_replaced",
    ),
    pytest.param(
        Case(
            trigger("sleep"),
            P_LOCKED_0800,
            ours(P_LOCKED_0800, saved=P_BUSY, set_by="lock"),
            "set",
            target=P_ASLEEP_0900,
            remembers={"saved": P_BUSY, "set_by": "sleep"},
        ),
        id="it_keeps_what_lock_saved_when_a_locked_computer_goes_to_sleep",
    ),
    pytest.param(
        Case(
            trigger("sleep"),
            P_AVAILABLE,
            ours(P_AVAILABLE, set_by="logon"),
            "set",
            target=P_ASLEEP_0900,
            remembers={"saved": None},
        ),
        id="it_never_saves_its_own_preset_on_sleep",
    ),
    pytest.param(
        Case(
            trigger("sleep"),
            P_ASLEEP_0800,
            ours(P_ASLEEP_0800, saved=P_BUSY, set_by="sleep"),
            "skip",
            "already asleep",
            remembers={"saved": P_BUSY, "set_presence": P_ASLEEP_0800},
        ),
        id="it_skips_a_second_sleep_while_asleep_and_keeps_the_first_time",
    ),
    pytest.param(
        Case(
            trigger("resume"),
            P_ASLEEP_0800,
            ours(P_ASLEEP_0800, saved=P_BUSY, set_by="sleep"),
            "set",
            target=P_BUSY,
            remembers={"saved": None, "set_by": "restore"},
            rule="event rule resume → restore",
        ),
        id="it_restores_on_resume_what_sleep_replaced",
    ),
    pytest.param(
        Case(
            trigger("resume"),
            P_ASLEEP_0800,
            ours(P_ASLEEP_0800, set_by="sleep"),
            "set",
            target=P_AVAILABLE,
            rule="nothing to restore: fallback 'Available'",
            remembers={"set_by": "fallback"},
        ),
        id="it_falls_back_on_resume_when_the_sleep_saved_nothing",
    ),
    pytest.param(
        Case(
            trigger("resume"),
            P_DND,
            ours(P_ASLEEP_0800, saved=P_BUSY, set_by="sleep"),
            "skip",
            "restore: presence changed since sleep",
            config=with_overrides(manual_wins=False),
            remembers={"saved": None},
        ),
        id="it_does_not_restore_on_resume_a_presence_changed_while_asleep",
    ),
    pytest.param(
        Case(
            trigger("lock"),
            P_ASLEEP_0800,
            ours(P_ASLEEP_0800, saved=P_BUSY, set_by="sleep"),
            "set",
            target=P_LOCKED_0900,
            remembers={"saved": P_BUSY, "set_by": "lock"},
        ),
        id="it_keeps_what_sleep_saved_when_the_computer_wakes_to_a_locked_screen",
    ),
    pytest.param(
        Case(
            trigger("startup"),
            P_SHUT_DOWN_0900,
            ours(P_SHUT_DOWN_0900, set_by="shutdown"),
            "skip",
            "rule: do nothing",
            rule="event rule startup → do nothing",
        ),
        id="it_does_nothing_on_startup_by_default",
    ),
    pytest.param(
        Case(trigger("sleep"), P_HOLIDAY, ours(P_HOLIDAY), "skip", "protected: holiday"),
        id="it_keeps_holiday_presence_when_the_computer_sleeps",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_decide(case: Case) -> None:
    decision = decide(case.trigger, case.current, case.memory, case.config, NOW, case.sent)

    assert (decision.outcome, decision.reason) == (case.outcome, case.reason)
    assert decision.target == case.target
    assert decision.before == case.current
    assert case.rule in decision.rule
    if case.outcome == "set":
        assert decision.memory.set_presence == case.target
        assert decision.memory.set_at == NOW
        assert decision.memory.last_event_at == max(case.memory.last_event_at or case.trigger.at, case.trigger.at)
    for name, expected in case.remembers.items():
        if expected is UNTOUCHED:
            assert decision.memory == case.memory
        else:
            assert getattr(decision.memory, name) == expected, name


def test_the_table_covers_at_least_forty_behaviours() -> None:
    assert len(CASES) >= 40
    assert MON_0900.weekday() == 0


# --- whole stories through the engine, memory carried from one decision to the next ---------------------


def run(events: list[tuple[TriggerInput, Presence | None]], config: EngineConfig = CONFIG) -> list[Any]:
    """Decide each trigger with the memory the previous decision returned; the PBX shows what was set."""
    memory, shown, decisions = UserMemory(), None, []
    for trig, hand_set in events:
        if hand_set is not None:
            shown = hand_set
        decision = decide(trig, shown, memory, config, trig.at)
        if decision.outcome == "set":
            shown = decision.target
        memory = decision.memory
        decisions.append((decision.outcome, decision.reason, shown))
    return decisions


def test_it_puts_back_what_the_user_had_after_lock_and_unlock() -> None:
    assert run(
        [
            (trigger("logon", at(8)), None),
            (button(BUSY_PRESET, at(8, 30)), None),
            (trigger("lock", at(9)), None),
            (trigger("lock", at(9, 5)), None),  # a second device
            (trigger("unlock", at(9, 30)), None),
            (trigger("lock", at(10)), None),
            (trigger("unlock", at(10, 30)), None),
        ]
    ) == [
        ("set", "", P_AVAILABLE),
        ("set", "", P_BUSY),
        ("set", "", P_LOCKED_0900),
        ("skip", "already locked", P_LOCKED_0900),
        ("set", "", P_BUSY),
        ("set", "", Presence("away", "Screen locked since 10:00")),
        ("set", "", P_BUSY),
    ]


def test_nobody_who_unlocked_is_left_screen_locked_after_a_lock_on_their_own_preset() -> None:
    assert run(
        [
            (trigger("logon", at(8)), None),
            (trigger("lock", at(9)), None),
            (trigger("unlock", at(9, 30)), None),
        ]
    ) == [
        ("set", "", P_AVAILABLE),
        ("set", "", P_LOCKED_0900),
        ("set", "", P_AVAILABLE),
    ]


def test_a_laptop_locked_then_asleep_comes_back_to_what_the_user_had() -> None:
    assert run(
        [
            (trigger("logon", at(8)), None),
            (button(BUSY_PRESET, at(8, 30)), None),
            (trigger("lock", at(12)), None),
            (trigger("sleep", at(12, 1)), None),
            (trigger("resume", at(13)), None),
            (trigger("unlock", at(13, 1)), None),
        ]
    ) == [
        ("set", "", P_AVAILABLE),
        ("set", "", P_BUSY),
        ("set", "", Presence("away", "Screen locked since 12:00")),
        ("set", "", Presence("away", "Computer asleep since 12:01")),
        ("set", "", P_BUSY),
        ("skip", "nothing to restore", P_BUSY),
    ]


def test_nobody_is_left_asleep_after_a_sleep_on_their_own_preset() -> None:
    assert run(
        [
            (trigger("logon", at(8)), None),
            (trigger("sleep", at(12)), None),
            (trigger("resume", at(13)), None),
        ]
    ) == [
        ("set", "", P_AVAILABLE),
        ("set", "", Presence("away", "Computer asleep since 12:00")),
        ("set", "", P_AVAILABLE),
    ]


def test_it_leaves_a_hand_set_presence_alone_until_the_next_logon() -> None:
    assert run(
        [
            (trigger("logon", at(8)), None),
            (trigger("lock", at(9)), P_DND),  # the user set dnd on the phone
            (trigger("unlock", at(10)), None),
            (trigger("shutdown", at(18)), Presence("busy", "")),
            (trigger("logon", at(8, day=3)), None),
            (trigger("lock", at(9, day=3)), None),
        ],
        config=with_overrides(),
    ) == [
        ("set", "", P_AVAILABLE),
        ("skip", "manual change protected", P_DND),
        ("skip", "manual change protected", P_DND),
        ("skip", "manual change protected", P_BUSY),
        ("set", "", P_AVAILABLE),
        ("set", "", P_LOCKED_0900),
    ]


def test_it_does_not_flag_a_presence_again_that_a_logon_accepted() -> None:
    office = replace(OFFICE_HOURS, overrides=())
    assert run(
        [
            (trigger("logon", at(8)), None),
            (trigger("lock", at(9)), P_DND),
            (trigger("logon", at(20)), None),  # outside working hours: changes nothing, ends manual wins
            (trigger("lock", at(20, 5)), None),
            (trigger("unlock", at(20, 30)), None),
        ],
        config=office,
    ) == [
        ("set", "", P_AVAILABLE),
        ("skip", "manual change protected", P_DND),
        ("skip", "outside working hours", P_DND),
        ("set", "", Presence("away", "Screen locked since 20:05")),
        ("set", "", P_DND),
    ]


# --- notes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "tz", "expected"),
    [
        pytest.param("Screen locked since {time}", UTC, "Screen locked since 09:00", id="it_renders_time_as_hh_mm"),
        pytest.param("Off {date} {time}", BERLIN_WINTER, "Off 2026-03-02 10:00", id="it_renders_in_the_time_zone"),
        pytest.param("Locked on {device}", UTC, "Locked on PC-042", id="it_renders_the_device"),
        pytest.param("Back {soon}", UTC, "Back {soon}", id="it_leaves_unknown_placeholders_as_written"),
        pytest.param("{ lone { brace }} {{time}}", UTC, "{ lone { brace }} {09:00}", id="it_never_crashes_on_braces"),
        pytest.param("{time}" * 60, UTC, ("09:00" * 60)[:255], id="it_cuts_the_note_to_what_the_pbx_keeps"),
    ],
)
def test_render_note(template: str, tz: Any, expected: str) -> None:
    assert render_note(template, at=MON_0900, device="PC-042", tz=tz) == expected


def test_it_drops_the_gap_of_an_unknown_device_at_the_end() -> None:
    assert render_note("Locked {device}", at=MON_0900, device="", tz=UTC) == "Locked"


@pytest.mark.parametrize(
    ("current", "memory", "expected"),
    [
        pytest.param(P_BUSY, ours(P_AVAILABLE), True, id="it_sees_a_different_presence_as_manual"),
        pytest.param(
            Presence("AWAY", "Logged off "),
            ours(Presence("away", "Logged off")),
            False,
            id="it_ignores_letter_case_of_activity_and_blanks_around_the_note",
        ),
        pytest.param(P_BUSY, UserMemory(), False, id="it_sees_nothing_manual_before_it_set_anything"),
        pytest.param(None, ours(P_AVAILABLE), False, id="it_sees_nothing_manual_without_a_reported_presence"),
        pytest.param(Presence("", "x"), ours(P_AVAILABLE), True, id="it_sees_a_changed_note_as_manual"),
    ],
)
def test_detect_manual_change(current: Presence | None, memory: UserMemory, expected: bool) -> None:
    assert detect_manual_change(current, memory) is expected


def test_the_engine_imports_without_django() -> None:
    code = "import sys; sys.modules['django'] = None; import presence.engine"
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=importlib.import_module("presence").__path__[0] + "/.."
    )


def test_the_contract_field_names_stay_put() -> None:
    """The worker builds these by keyword: renaming a field breaks it."""
    names = {cls.__name__: [f.name for f in dataclasses.fields(cls)] for cls in (TriggerInput, UserMemory)}
    assert names == {
        "TriggerInput": ["event", "at", "device", "source", "preset"],
        "UserMemory": ["set_presence", "set_at", "set_by", "last_event_at", "saved", "manual_since"],
    }


def test_a_presence_sent_but_never_confirmed_is_ours_not_a_manual_change() -> None:
    sent = (Sent("shutdown", P_AVAILABLE, P_SHUT_DOWN_0900),)
    decision = decide(trigger("lock"), P_SHUT_DOWN_0900, ours(P_AVAILABLE), with_overrides(), NOW, sent)
    assert (decision.outcome, decision.target) == ("set", P_LOCKED_0900)
    assert decision.memory.manual_since is None


def test_an_unconfirmed_presence_the_pbx_does_not_show_changes_nothing() -> None:
    sent = (Sent("shutdown", P_AVAILABLE, P_SHUT_DOWN_0900),)
    decision = decide(trigger("lock"), P_DND, ours(P_AVAILABLE), with_overrides(), NOW, sent)
    assert (decision.outcome, decision.reason) == ("skip", "manual change protected")


def test_a_catastrophic_regex_cannot_stall_the_process() -> None:
    """`(a+)+$` against a note the API caller controls ({device}): a backtracking matcher needs 2^64
    steps here, holding the GIL, so the whole process (every request, /healthz) would stop. A
    linear-time matcher answers at once; the child process is given a minute, far more than enough."""
    code = "from presence.engine import note_matches; print(note_matches('regex', '(a+)+$', 'a' * 64 + '!'))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=importlib.import_module("presence").__path__[0] + "/..",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    ("pattern", "note", "expected"),
    [
        pytest.param("HOLIDAY", "On holiday until Monday", True, id="it_ignores_case"),
        pytest.param("^urlaub|ferien$", "Ferien", True, id="it_ignores_case_in_alternatives"),
        pytest.param("ÜBER", "über alles", True, id="it_ignores_case_beyond_ascii"),
        pytest.param(r"call #\d+", "call #12", True, id="it_knows_perl_classes"),
        pytest.param("(a+)+$", "aaaa", True, id="it_matches_a_nested_quantifier_normally"),
        pytest.param("x", "", False, id="it_matches_nothing_in_an_empty_note"),
    ],
)
def test_regex_rules_search_the_note(pattern: str, note: str, expected: bool) -> None:
    from presence.engine import note_matches

    assert note_matches("regex", pattern, note) is expected


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", "(?=holiday)", "(?<!out of )office", "holiday ("],
    ids=["backref", "lookahead", "lookbehind", "unclosed"],
)
def test_patterns_the_linear_matcher_cannot_take_are_refused_and_never_match(pattern: str) -> None:
    from presence.engine import note_matches, regex_error

    problem = regex_error(pattern)
    assert problem and "b'" not in problem
    assert note_matches("regex", pattern, "holiday holiday aa office") is False
