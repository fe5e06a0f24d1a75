"""Between the models and the engine: the admin's configuration and the user's memory as dataclasses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from presence.engine import (
    EngineConfig,
    EventRuleSpec,
    OverrideRuleSpec,
    Presence,
    PresetSpec,
    TriggerInput,
    UserMemory,
    decide,
)
from presence.engine_models import MEMORY_FIELDS, apply_memory, config_from_models, memory_from_state
from presence.models import EventRule, OverrideRule, Preset, ServiceSettings, UserState

T = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def config(db) -> EngineConfig:
    """The configuration the data migration installs, as the worker would read it."""
    return config_from_models()


def test_it_reads_the_default_event_rules(config: EngineConfig) -> None:
    assert config.rules["logon"] == EventRuleSpec("logon", "preset", PresetSpec("Available", "", ""))
    assert config.rules["unlock"] == EventRuleSpec("unlock", "restore")
    assert config.rules["lock"].preset == PresetSpec("Away – screen locked", "away", "Screen locked since {time}")
    assert config.rules["heartbeat-lost"].preset == config.rules["shutdown"].preset
    assert config.rules["sleep"].preset == PresetSpec("Away – computer asleep", "away", "Computer asleep since {time}")
    assert config.rules["resume"] == EventRuleSpec("resume", "restore")
    assert config.rules["startup"] == EventRuleSpec("startup", "nothing")
    assert set(config.rules) == {
        "logon",
        "unlock",
        "lock",
        "logoff",
        "shutdown",
        "heartbeat-lost",
        "sleep",
        "resume",
        "startup",
    }


def test_it_reads_the_default_holiday_rule_and_settings(config: EngineConfig) -> None:
    assert config.overrides == (OverrideRuleSpec("holiday", ("away",), "contains", "holiday", (), "protect"),)
    assert config.manual_wins is True
    assert config.tz == timezone.get_default_timezone()


def test_it_reads_the_configuration_with_one_query_per_model(db, django_assert_num_queries) -> None:
    with django_assert_num_queries(3):
        config_from_models()


def test_it_reads_windows_and_only_enabled_override_rules_in_order(db) -> None:
    EventRule.objects.filter(event="logon").update(
        weekdays=[0, 1, 2, 3, 4], start_time=dt.time(7), end_time=dt.time(19)
    )
    OverrideRule.objects.create(order=1, name="meeting", activities=["dnd"], note_match="regex", note_pattern="meet")
    OverrideRule.objects.create(order=2, name="off", activities=["busy"], enabled=False)
    ServiceSettings.objects.update(manual_wins=False)

    config = config_from_models()

    logon = config.rules["logon"]
    assert (logon.weekdays, logon.start, logon.end) == ((0, 1, 2, 3, 4), dt.time(7), dt.time(19))
    assert [o.name for o in config.overrides] == ["meeting", "holiday"]
    assert config.manual_wins is False


def test_it_names_an_unnamed_override_rule(db) -> None:
    OverrideRule.objects.all().delete()
    rule = OverrideRule.objects.create(activities=["busy"])
    assert config_from_models().overrides[0].name == f"rule {rule.pk}"


def test_it_keeps_holiday_presence_on_shutdown_with_the_stored_configuration(config: EngineConfig) -> None:
    decision = decide(
        TriggerInput("shutdown", T), Presence("away", "Holiday until Monday"), UserMemory(), config, now=T
    )
    assert (decision.outcome, decision.reason) == ("skip", "protected: holiday")


def test_a_user_without_state_has_an_empty_memory() -> None:
    assert memory_from_state(None) == UserMemory()


def test_it_remembers_nothing_set_before_the_service_set_something(alice) -> None:
    state = UserState.objects.create(user=alice, last_event_at=T)
    assert memory_from_state(state) == UserMemory(last_event_at=T)


@pytest.mark.parametrize(
    "memory",
    [
        pytest.param(
            UserMemory(
                set_presence=Presence("away", "Screen locked since 09:00"),
                set_at=T,
                last_event_at=T,
                saved=Presence("busy", "Call"),
                manual_since=T + dt.timedelta(minutes=1),
            ),
            id="it_stores_a_full_memory",
        ),
        pytest.param(UserMemory(set_presence=Presence("", ""), set_at=T), id="it_tells_available_from_never_set"),
        pytest.param(UserMemory(), id="it_stores_an_empty_memory"),
    ],
)
def test_memory_survives_the_database(alice, memory: UserMemory) -> None:
    state = UserState.objects.create(user=alice, set_activity="dnd", set_at=T, saved={"activity": "x"})
    apply_memory(state, memory)
    state.save(update_fields=MEMORY_FIELDS)

    assert memory_from_state(UserState.objects.get(pk=alice.pk)) == memory


def test_the_defaults_offer_buttons_in_myapps_colours(db) -> None:
    buttons = list(Preset.objects.filter(show_on_user_page=True).values_list("name", "activity", "color"))
    assert buttons == [
        ("Available", "", "#badb8c"),
        ("Away", "away", "#ffd063"),
        ("Busy", "busy", "#ff918f"),
        ("Do not disturb", "dnd", "#cb8cdb"),
        ("Lunch", "away", "#ffd063"),
    ]
    assert ServiceSettings.objects.filter(pk=1).exists()
