"""/healthz, /metrics and the link panel of the admin index: what an operator looks at."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from presence.models import LinkStatus
from triggers.models import Trigger

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_with_the_link_and_licence_inside(client):
    LinkStatus.objects.update_or_create(
        pk=1,
        defaults={
            "holder": "host:1:abc",
            "lease_until": timezone.now() + dt.timedelta(minutes=10),  # held throughout, however slow the test
            "connected": True,
            "subscriptions": 12,
        },
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["pbx_link"]["connected"] is True and body["pbx_link"]["subscriptions"] == 12
    assert body["licence"]["state"] in {"valid", "expiring"}


def test_healthz_stays_200_when_the_pbx_link_is_down_and_says_so(client):
    LinkStatus.objects.update_or_create(
        pk=1, defaults={"holder": "host:1:abc", "lease_until": timezone.now() - dt.timedelta(seconds=1)}
    )
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["pbx_link"] == {**body["pbx_link"], "worker": "not running", "connected": False}


def test_metrics_are_prometheus_text_with_queue_and_link(client, alice):
    Trigger.objects.create(user_value="alice", pbx_user=alice, event="lock", at=timezone.now())
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "heartbeat_queue_depth 1.0" in text
    for name in (
        "heartbeat_pbx_link_up",
        "heartbeat_triggers_total",
        "heartbeat_trigger_accept_seconds_bucket",
        "heartbeat_trigger_to_setpresence_seconds_bucket",
        "heartbeat_pbx_link_reconnects",
        "heartbeat_pbx_subscriptions",
        "heartbeat_licence_days_left",
    ):
        assert name in text, name
    days_left = next(line for line in text.splitlines() if line.startswith("heartbeat_licence_days_left "))
    assert float(days_left.split()[1]) > 0


def test_accepted_triggers_are_counted_by_event_and_answer(client, auth, alice):
    response = client.post(
        "/api/v1/triggers", "user=alice&event=lock", content_type="application/x-www-form-urlencoded", **auth
    )
    assert response.status_code == 202
    text = client.get("/metrics").content.decode()
    assert 'heartbeat_triggers_total{event="lock",outcome="202"}' in text


def test_the_admin_index_shows_the_link_state(admin_client):
    LinkStatus.objects.update_or_create(pk=1, defaults={"holder": "", "last_error": "wrong password"})
    page = admin_client.get("/admin/").content.decode()
    assert 'id="pbx-link-status"' in page and "no link worker running" in page and "wrong password" in page
    assert "/admin/integration/" in page
