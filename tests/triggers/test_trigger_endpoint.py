"""POST /api/v1/triggers and GET /api/v1/triggers/<id>: every answer, with the database after it."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from django.utils import timezone

from triggers.models import Trigger
from triggers.serializers import json_depth

URL = "/api/v1/triggers"
pytestmark = pytest.mark.django_db


def post(client, body, auth, fmt="json", **extra):
    if fmt == "json":
        return client.post(URL, data=json.dumps(body), content_type="application/json", **auth, **extra)
    return client.post(URL, data=body, **auth, **extra)  # form-encoded


def test_it_accepts_a_json_trigger_and_stores_it_queued(api_client, auth, alice):
    response = post(api_client, {"user": "alice", "event": "lock", "device": "PC-17"}, auth)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["user"] == "alice" and body["event"] == "lock"
    row = Trigger.objects.get(pk=body["id"])
    assert row.status == "queued" and row.pbx_user == alice and row.device == "PC-17"
    assert row.key_name == "test scripts" and row.source_ip == "127.0.0.1"


def test_it_accepts_form_fields_like_curl_d(api_client, auth, alice):
    response = api_client.post(
        URL, data="user=CORP%5Calice&event=logon", content_type="application/x-www-form-urlencoded", **auth
    )
    assert response.status_code == 202, response.content
    row = Trigger.objects.get(pk=response.json()["id"])
    assert row.pbx_user == alice and row.user_value == "CORP\\alice" and row.event == "logon"


def test_it_accepts_the_x_api_key_header(api_client, api_key, alice):
    response = post(api_client, {"user": "alice", "event": "unlock"}, {"HTTP_X_API_KEY": api_key[1]})
    assert response.status_code == 202


def test_it_keeps_the_time_the_event_happened(api_client, auth, alice):
    at = (timezone.now() - dt.timedelta(minutes=3)).replace(microsecond=0)
    response = post(api_client, {"user": "alice", "event": "lock", "at": at.isoformat()}, auth)
    assert response.status_code == 202
    assert Trigger.objects.get(pk=response.json()["id"]).at == at


def test_it_refuses_an_at_more_than_five_minutes_in_the_future(api_client, auth, alice):
    at = timezone.now() + dt.timedelta(minutes=6)
    response = post(api_client, {"user": "alice", "event": "lock", "at": at.isoformat()}, auth)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and "at" in body["fields"] and "future" in body["fields"]["at"][0]
    assert list(Trigger.objects.values_list("status", flat=True)) == ["refused"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"event": "lock"}, "user", id="user-missing"),
        pytest.param({"user": "alice"}, "event", id="event-missing"),
        pytest.param({"user": "alice", "event": "dance"}, "event", id="event-unknown"),
        pytest.param({"user": "alice", "event": "lock", "at": "yesterday"}, "at", id="at-not-a-time"),
        pytest.param({"user": "x" * 300, "event": "lock"}, "user", id="user-too-long"),
        pytest.param({"user": "alice", "event": "lock", "id": "i" * 200}, "id", id="id-too-long"),
        pytest.param({"user": "alice", "event": "heartbeat-lost"}, "event", id="service-event-not-postable"),
    ],
)
def test_it_answers_400_with_a_message_per_field(api_client, auth, alice, body, field):
    response = post(api_client, body, auth)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "invalid" and field in payload["fields"] and payload["detail"]
    assert Trigger.objects.filter(status="queued").count() == 0
    assert Trigger.objects.get().status == "refused"


def test_it_answers_400_on_malformed_json(api_client, auth, alice):
    response = api_client.post(URL, data="{not json", content_type="application/json", **auth)
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert not Trigger.objects.filter(status="queued").exists()


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        pytest.param({}, "required", id="missing"),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer phk_AAAAAAAA_" + "x" * 43}, "Unknown", id="unknown"),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer nonsense"}, "Unknown", id="malformed"),
        pytest.param({"HTTP_AUTHORIZATION": "Basic YWxpY2U6cHc="}, "Bearer", id="wrong-scheme"),
    ],
)
def test_it_answers_401_without_a_usable_key(api_client, alice, headers, detail):
    response = post(api_client, {"user": "alice", "event": "lock"}, headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized" and detail in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Trigger.objects.exists()


def test_it_answers_401_for_an_expired_key(api_client, api_key, auth, alice):
    api_key[0].expires_at = timezone.now() - dt.timedelta(seconds=1)
    api_key[0].save()
    response = post(api_client, {"user": "alice", "event": "lock"}, auth)
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert not Trigger.objects.exists()


def test_it_answers_401_for_a_revoked_key(api_client, api_key, auth, alice):
    api_key[0].revoke()
    response = post(api_client, {"user": "alice", "event": "lock"}, auth)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert not Trigger.objects.exists()


def test_it_refuses_a_key_in_the_query_string(api_client, api_key, alice):
    response = api_client.post(f"{URL}?key={api_key[1]}", data={"user": "alice", "event": "lock"})
    assert response.status_code == 401 and "URL" in response.json()["detail"]
    assert not Trigger.objects.exists()


def test_it_answers_403_for_an_unlicensed_user_and_logs_the_refusal(api_client, auth, make_user):
    bob = make_user("bob", licensed=False)
    response = post(api_client, {"user": "bob", "event": "lock"}, auth)
    assert response.status_code == 403
    assert response.json() == {"error": "not_licensed", "detail": response.json()["detail"]}
    row = Trigger.objects.get()
    assert row.status == "refused" and row.pbx_user == bob and row.http_status == 403 and "licensed" in row.reason


def test_it_answers_404_for_an_unknown_user(api_client, auth, alice):
    response = post(api_client, {"user": "mallory", "event": "lock"}, auth)
    assert response.status_code == 404 and response.json()["error"] == "unknown_user"
    row = Trigger.objects.get()
    assert row.status == "refused" and row.pbx_user is None and row.user_value == "mallory"


def test_it_answers_409_for_an_ambiguous_user(api_client, auth, make_user):
    make_user("alice.a", emails=["shared@corp.example"])
    make_user("alice.b", emails=["shared@corp.example"])
    response = post(api_client, {"user": "shared@corp.example", "event": "lock"}, auth)
    assert response.status_code == 409 and response.json()["error"] == "ambiguous_user"
    assert "alice.a" in response.json()["detail"] and "alice.b" in response.json()["detail"]
    assert Trigger.objects.get().status == "refused"


def test_it_answers_413_for_a_body_over_4_kib(api_client, auth, alice):
    response = post(api_client, {"user": "alice", "event": "lock", "device": "d" * 5000}, auth)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    assert Trigger.objects.get().status == "refused"


def test_it_answers_415_for_other_media_types(api_client, auth, alice):
    response = api_client.post(URL, data="<x/>", content_type="application/xml", **auth)
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"
    assert not Trigger.objects.filter(status="queued").exists()


def rate_limited(limit: str) -> float:
    from heartbeat_site.helpers import metrics

    return metrics.RATE_LIMITED.labels(limit)._value.get()


def test_it_answers_429_when_one_user_is_posted_in_a_loop_and_writes_no_row_for_it(api_client, auth, alice, settings):
    """Limits per hour in these tests: a fixed window that turned over between two posts would reset the count."""
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "trigger-user": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    before = rate_limited("user")
    answers = [post(api_client, {"user": "alice", "event": "lock"}, auth) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert answers[-1].json()["error"] == "rate_limited" and 0 < int(answers[-1]["Retry-After"]) <= 3600
    # A 429 leaves no row (a loop must not fill the trigger log): it is counted instead.
    assert Trigger.objects.count() == Trigger.objects.filter(status="queued").count() == 3
    assert rate_limited("user") == before + 2


def test_the_per_user_limit_counts_every_spelling_of_one_pbx_user(api_client, auth, alice, settings):
    """`CORP\\alice` and `alice@corp.example` passed after alice's 429 (review finding 8)."""
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "trigger-user": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    spellings = ["alice", "CORP\\alice", "alice@corp.example", "201", "ALICE", "corp\\Alice"]
    answers = [post(api_client, {"user": user, "event": "lock"}, auth).status_code for user in spellings]
    assert answers == [202, 202, 202, 429, 429, 429]
    assert Trigger.objects.count() == 3


def test_it_answers_429_with_retry_after_when_a_key_goes_over_its_rate(api_client, auth, make_user, settings):
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "trigger-key": "4/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    users = [make_user(f"user{n}").h323 for n in range(6)]
    answers = [post(api_client, {"user": user, "event": "lock"}, auth) for user in users]
    assert [a.status_code for a in answers] == [202, 202, 202, 202, 429, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 3600
    assert Trigger.objects.count() == Trigger.objects.filter(status="queued").count() == 4


def test_the_key_limit_is_counted_before_the_body_is_read_and_the_user_limit_per_pbx_user(
    api_client, api_key, auth, alice, monkeypatch
):
    """The key's limit needs no body (and stops a flood before any query); the user's needs the PBX
    user the body names, so it is counted once identity matching has found them."""
    from triggers import throttles

    calls = []
    original = throttles.count_hits

    def counting(counters):
        calls.append([key for key, _ in counters])
        return original(counters)

    monkeypatch.setattr(throttles, "count_hits", counting)
    assert post(api_client, {"user": "CORP\\alice", "event": "lock"}, auth).status_code == 202
    assert [[key.split(":")[1:3] for key in call] for call in calls] == [
        [["trigger-key", str(api_key[0].pk)]],
        [["trigger-user", f"{api_key[0].pk}-user-{alice.pk}"]],
    ]


def test_count_hits_adds_one_per_counter_and_returns_the_new_counts():
    from triggers.throttles import count_hits

    assert count_hits([("probe", 60), ("probe", 60)]) == [1, 2]


def test_the_default_rate_lets_a_logon_storm_through_one_key():
    from rest_framework.settings import api_settings

    from triggers.throttles import parse_rate

    count, period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES["trigger-key"])
    assert count / period * 60 >= 20_000
    per_user, per_user_period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES["trigger-user"])
    assert per_user / per_user_period * 60 <= 60


def test_a_repeated_idempotency_key_returns_the_first_answer_and_creates_nothing(api_client, auth, alice):
    first = post(api_client, {"user": "alice", "event": "lock", "id": "evt-1"}, auth)
    again = post(api_client, {"user": "alice", "event": "lock", "id": "evt-1"}, auth)
    header = post(api_client, {"user": "alice", "event": "lock"}, auth, HTTP_IDEMPOTENCY_KEY="evt-1")
    assert first.status_code == again.status_code == header.status_code == 202
    assert first.json()["id"] == again.json()["id"] == header.json()["id"]
    assert Trigger.objects.count() == 1


def test_a_repeated_refused_request_returns_the_same_refusal(api_client, auth, make_user):
    make_user("bob", licensed=False)
    first = post(api_client, {"user": "bob", "event": "lock", "id": "r-1"}, auth)
    again = post(api_client, {"user": "bob", "event": "lock", "id": "r-1"}, auth)
    assert first.status_code == again.status_code == 403
    assert first.json() == again.json()
    assert Trigger.objects.count() == 1


def test_it_accepts_a_custom_event_defined_by_the_admin(api_client, auth, alice):
    from presence.models import EventRule

    EventRule.objects.create(event="meeting-room", action="nothing")
    response = post(api_client, {"user": "alice", "event": "meeting-room"}, auth)
    assert response.status_code == 202


def test_get_returns_the_trigger_with_its_status(api_client, auth, alice):
    created = post(api_client, {"user": "alice", "event": "lock"}, auth).json()
    Trigger.objects.filter(pk=created["id"]).update(status="skipped", reason="protected: holiday")
    response = api_client.get(f"{URL}/{created['id']}", **auth)
    assert response.status_code == 200
    assert response.json()["status"] == "skipped" and response.json()["reason"] == "protected: holiday"


def test_get_does_not_show_another_keys_trigger(api_client, auth, alice):
    from triggers.models import ApiKey

    created = post(api_client, {"user": "alice", "event": "lock"}, auth).json()
    _, other = ApiKey.create("other")
    response = api_client.get(f"{URL}/{created['id']}", HTTP_AUTHORIZATION=f"Bearer {other}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_the_accept_path_uses_a_fixed_number_of_queries(api_client, auth, make_user, django_assert_max_num_queries):
    for n in range(200):
        make_user(f"user{n}", emails=[f"user{n}@corp.example"])
    post(api_client, {"user": "user1", "event": "lock"}, auth)  # warm the settings cache
    # key lookup, key use, replay lookup, user, seat, savepoint, insert, release.
    with django_assert_max_num_queries(8):
        response = post(api_client, {"user": "USER150@corp.example", "event": "lock", "id": "q-1"}, auth)
    assert response.status_code == 202


@pytest.mark.parametrize("bad_id", ["abc", "null,null", "9" * 40, "-1"])
def test_get_answers_json_404_for_a_malformed_id(api_client, auth, bad_id):
    response = api_client.get(f"{URL}/{bad_id}", **auth)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize("field", ["user", "event", "device", "id"])
def test_control_characters_are_refused_with_a_400_and_audited(api_client, auth, alice, field):
    body = {"user": "alice", "event": "lock", field: "al\x00ice"}
    response = post(api_client, body, auth)
    assert response.status_code == 400 and field in response.json()["fields"]
    assert Trigger.objects.get().status == "refused"


# ---- hostile input that once answered 500 or lost the trigger (security review finding 4) ----------
@pytest.mark.parametrize("field", ["user", "event", "device", "id"])
def test_a_lone_surrogate_is_refused_with_a_400_naming_the_field(api_client, auth, alice, field):
    """JSON may spell `\\ud800`, which is no character: no database can store it."""
    body = {"user": "alice", "event": "lock", field: "al\ud800ice"}
    response = api_client.post(URL, data=json.dumps(body), content_type="application/json", **auth)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["error"] == "invalid" and field in payload["fields"]
    assert "surrogate" in payload["fields"][field][0].lower()
    row = Trigger.objects.get()  # the refusal is audited, with what could be stored
    assert row.status == "refused" and row.http_status == 400
    assert "\ud800" not in row.user_value + row.device


def test_json_nested_a_thousand_levels_deep_is_refused_with_a_400(api_client, auth, alice):
    """It fits in 4 KiB; parsing it overflowed the stack (RecursionError) in the throttle's read."""
    deep = '{"user": "alice", "event": "lock", "device": ' + "[" * 1000 + "]" * 1000 + "}"
    assert len(deep) < 4096
    response = api_client.post(URL, data=deep, content_type="application/json", **auth)
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert not Trigger.objects.filter(status="queued").exists()


def test_deep_json_gets_the_same_answer_whatever_the_recursion_limit(api_client, auth, alice):
    """Hypothesis (and other libraries) raise the limit; the body must not then parse and answer differently."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        deep = '{"user": "alice", "event": "lock", "device": ' + "[" * 1000 + "]" * 1000 + "}"
        response = api_client.post(URL, data=deep, content_type="application/json", **auth)
    finally:
        sys.setrecursionlimit(previous)
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert "nested too deeply" in response.json()["detail"]


def test_json_depth_counts_arrays_and_objects():
    assert json_depth("x") == 0
    assert json_depth({"a": "b"}) == 1
    assert json_depth({"a": [{"b": []}]}) == 4
    assert json_depth([[]] * 3) == 2


@pytest.mark.parametrize("value", ["k" * 129, "evt\x85next"], ids=["too-long", "not-printable"])
def test_an_unusable_idempotency_key_header_is_refused_with_a_400(api_client, auth, alice, value):
    """A 200-character key raised DataError on PostgreSQL after validation: the trigger was lost."""
    response = post(api_client, {"user": "alice", "event": "lock"}, auth, HTTP_IDEMPOTENCY_KEY=value)
    assert response.status_code == 400, response.content
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Trigger.objects.filter(status="queued").exists()
    assert Trigger.objects.get().client_id == ""  # the audit row keeps no unusable key
