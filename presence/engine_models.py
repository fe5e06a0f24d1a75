"""Between the Django models and the engine's plain dataclasses (presence.engine imports no Django)."""

from __future__ import annotations

from django.utils import timezone

from presence.engine import (
    AVAILABLE_FALLBACK,
    EngineConfig,
    EventRuleSpec,
    OverrideRuleSpec,
    Presence,
    PresetSpec,
    Sent,
    UserMemory,
)
from presence.models import EventRule, OverrideRule, Preset, ServiceSettings, UserState

# What apply_memory() writes: save with state.save(update_fields=MEMORY_FIELDS).
MEMORY_FIELDS = ["set_activity", "set_note", "set_at", "set_by", "last_event_at", "saved", "manual_since"]


def preset_spec(preset: Preset) -> PresetSpec:
    return PresetSpec(name=preset.name, activity=preset.activity, note=preset.note)


def config_from_models() -> EngineConfig:
    """The admin's configuration as the engine sees it: one query for rules, one for overrides."""
    rules = {
        rule.event: EventRuleSpec(
            event=rule.event,
            action=rule.action,
            preset=preset_spec(rule.preset) if rule.preset else None,
            weekdays=tuple(d for d in (rule.weekdays or []) if isinstance(d, int) and 0 <= d <= 6),
            start=rule.start_time,
            end=rule.end_time,
        )
        for rule in EventRule.objects.select_related("preset")
    }
    overrides = tuple(
        OverrideRuleSpec(
            name=str(rule),
            activities=tuple(a for a in (rule.activities or []) if isinstance(a, str)),
            note_match=rule.note_match,
            note_pattern=rule.note_pattern,
            events=tuple(e for e in (rule.events or []) if isinstance(e, str)),
            decision=rule.decision,
        )
        for rule in OverrideRule.objects.filter(enabled=True).order_by("order", "id")
    )
    options = ServiceSettings.current()
    fallback = Preset.objects.filter(pk=options.restore_fallback_id).first() if options.restore_fallback_id else None
    return EngineConfig(
        rules=rules,
        overrides=overrides,
        manual_wins=options.manual_wins,
        tz=timezone.get_default_timezone(),
        fallback=preset_spec(fallback) if fallback else AVAILABLE_FALLBACK,
    )


def presence_from_json(value: object) -> Presence | None:
    """A presence stored as {"activity": ..., "note": ...} (UserState.saved, PbxUser.presence items)."""
    if not isinstance(value, dict):
        return None
    return Presence(activity=str(value.get("activity") or ""), note=str(value.get("note") or ""))


def sent_from_decision(decision: object) -> Sent | None:
    """What a decided trigger sent (its `decision` JSON), for a re-decision after its answer was lost."""
    if not isinstance(decision, dict):
        return None
    target = presence_from_json(decision.get("after"))
    if target is None:
        return None
    return Sent(str(decision.get("set_by") or ""), presence_from_json(decision.get("before")), target)


def presence_to_json(presence: Presence | None) -> dict | None:
    return presence.as_json() if presence is not None else None


def memory_from_state(state: UserState | None) -> UserMemory:
    """The engine's memory of a user; a user without a state row has an empty memory.

    set_at tells "we set available with no note" from "we never set anything", as the two
    set_* text columns are blank in both cases.
    """
    if state is None:
        return UserMemory()
    return UserMemory(
        set_presence=Presence(state.set_activity, state.set_note) if state.set_at is not None else None,
        set_at=state.set_at,
        set_by=state.set_by,
        last_event_at=state.last_event_at,
        saved=presence_from_json(state.saved),
        manual_since=state.manual_since,
    )


def apply_memory(state: UserState, memory: UserMemory) -> None:
    """Copy the memory onto the row; does not save (the worker saves it with MEMORY_FIELDS)."""
    if memory.set_presence is None:
        state.set_activity, state.set_note, state.set_at, state.set_by = "", "", None, ""
    else:
        state.set_by = memory.set_by
        state.set_activity = memory.set_presence.activity
        state.set_note = memory.set_presence.note
        state.set_at = memory.set_at or state.set_at or timezone.now()
    state.last_event_at = memory.last_event_at
    state.saved = presence_to_json(memory.saved)
    state.manual_since = memory.manual_since
