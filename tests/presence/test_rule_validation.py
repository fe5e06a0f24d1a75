"""The admin refuses rules the engine could not honour, with a message per field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from presence.models import EventRule, OverrideRule, Preset

pytestmark = pytest.mark.django_db


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"event": "heartbeat", "action": "nothing"}, "event", id="heartbeat-is-not-a-rule-event"),
        pytest.param({"event": "lock", "action": "preset"}, "preset", id="preset-action-needs-a-preset"),
        pytest.param({"event": "lock", "action": "nothing", "weekdays": [0, 7]}, "weekdays", id="weekday-out-of-range"),
        pytest.param({"event": "lock", "action": "nothing", "weekdays": [1, 1]}, "weekdays", id="weekday-twice"),
        pytest.param({"event": "Lock Screen", "action": "nothing"}, "event", id="event-name-shape"),
    ],
)
def test_event_rules_refuse_what_cannot_work(fields, field):
    assert field in errors_of(EventRule(**fields))


def test_an_event_rule_window_needs_both_ends():
    import datetime as dt

    assert "end_time" in errors_of(EventRule(event="logon", action="nothing", start_time=dt.time(7)))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"activities": []}, "activities", id="no-activities"),
        pytest.param({"activities": ["Away"]}, "activities", id="activity-not-lower-case"),
        pytest.param({"activities": ["away"], "note_match": "contains"}, "note_pattern", id="contains-needs-text"),
        pytest.param(
            {"activities": ["away"], "note_match": "regex", "note_pattern": "(unclosed"}, "note_pattern", id="bad-regex"
        ),
        pytest.param({"activities": ["away"], "events": "shutdown"}, "events", id="events-not-a-list"),
    ],
)
def test_override_rules_refuse_what_cannot_match(fields, field):
    assert field in errors_of(OverrideRule(name="r", **fields))


def test_a_preset_activity_must_be_an_activity():
    assert "activity" in errors_of(Preset(name="Odd", activity="Out Of Office"))
    Preset(name="Lunch break", activity="lunch").full_clean()  # RFC 4480 activities are allowed


def test_the_heartbeat_timeout_is_at_most_a_day():
    from presence.models import ServiceSettings

    errors = errors_of(ServiceSettings(pk=1, heartbeat_timeout_minutes=1_100_000_000))
    assert "heartbeat_timeout_minutes" in errors and "1440" in errors["heartbeat_timeout_minutes"][0]
    ServiceSettings(pk=1, heartbeat_timeout_minutes=1440).full_clean(validate_unique=False)


@pytest.mark.parametrize("pattern", [r"(holiday)\s+\1", "(?=holiday)"], ids=["back-reference", "look-ahead"])
def test_an_override_regex_the_linear_matcher_cannot_take_is_refused_with_the_reason(pattern):
    errors = errors_of(OverrideRule(name="r", activities=["away"], note_match="regex", note_pattern=pattern))
    message = errors["note_pattern"][0]
    assert "linear time" in message and "back-references" in message


def test_the_admin_refuses_an_override_regex_the_linear_matcher_cannot_take(admin_client):
    response = admin_client.post(
        "/admin/presence/overriderule/add/",
        {
            "order": 0,
            "name": "holiday twice",
            "activities": '["away"]',
            "note_match": "regex",
            "note_pattern": r"(holiday)\s+\1",
            "events": "[]",
            "decision": "protect",
            "enabled": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "linear time" in response.content.decode()
    assert not OverrideRule.objects.filter(name="holiday twice").exists()


@pytest.mark.parametrize(
    ("url", "fields", "field"),
    [
        pytest.param(
            "/admin/presence/overriderule/add/",
            {"order": 0, "name": "deep", "note_match": "any", "events": "[]", "decision": "protect"},
            "activities",
            id="override-rule-activities",
        ),
        pytest.param(
            "/admin/presence/eventrule/add/",
            {"event": "logon", "action": "nothing"},
            "weekdays",
            id="event-rule-weekdays",
        ),
        pytest.param(
            "/admin/presence/pbxuser/add/", {"guid": "ab" * 16, "h323": "deep"}, "emails", id="pbx-user-emails"
        ),
    ],
)
def test_the_admin_refuses_json_nested_too_deeply_with_a_message(admin_client, url, fields, field):
    response = admin_client.post(url, {**fields, field: "[" * 3000 + "]" * 3000})
    assert response.status_code == 200  # the form again, not a 500
    assert "nested too deeply" in response.content.decode()
