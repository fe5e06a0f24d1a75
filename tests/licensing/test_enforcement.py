"""Enforcement end to end at the trigger API: who is refused, what is logged, what reaches the link."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.licensing.support import install_licence
from triggers.models import Trigger

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]
URL = "/api/v1/triggers"
DAY = dt.timedelta(days=1)


def post(client, auth, user: str):
    return client.post(URL, data=json.dumps({"user": user, "event": "lock"}), content_type="application/json", **auth)


def licence(settings, valid_until_in: int | None, **fields) -> None:
    if valid_until_in is not None:
        until = timezone.localdate() + valid_until_in * DAY
        install_licence(settings, check=False, valid_until=until, valid_from=until - 400 * DAY, **fields)


@pytest.mark.parametrize(
    ("valid_until_in", "demo", "licensed", "status", "error", "detail"),
    [
        pytest.param(100, False, True, 202, None, None, id="licensed-user"),
        pytest.param(100, True, True, 202, None, None, id="demo-licence"),
        pytest.param(5, False, True, 202, None, None, id="expiring-still-works"),
        pytest.param(100, False, False, 403, "not_licensed", "not licensed", id="switch-off"),
        pytest.param(-1, False, True, 403, "licence_expired", "The licence expired on", id="expired"),
        pytest.param(-1, False, False, 403, "licence_expired", "The licence expired on", id="expired-and-off"),
        pytest.param(None, False, True, 403, "licence_expired", "There is no valid licence", id="no-licence"),
    ],
)
def test_the_trigger_api_applies_the_licence(
    api_client,
    auth,
    make_user,
    settings,
    announced,
    django_capture_on_commit_callbacks,
    valid_until_in,
    demo,
    licensed,
    status,
    error,
    detail,
):
    licence(settings, valid_until_in, demo=demo)
    ann = make_user("ann", licensed=licensed)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client, auth, "ann")
    assert response.status_code == status, response.content
    row = Trigger.objects.get()
    if status == 202:
        assert row.status == "queued" and announced == [row.pk]
        return
    assert response.json() == {"error": error, "detail": response.json()["detail"]}
    assert detail in response.json()["detail"]
    assert row.status == "refused" and row.http_status == 403 and row.pbx_user == ann
    assert detail in row.reason and row.decision == {"error": error}
    assert announced == []  # nothing is handed to the PBX link


def test_an_expired_licence_stops_everyone_and_a_new_key_starts_them_again(api_client, auth, make_user, settings):
    licence(settings, -1)
    for name in ("ann", "ben"):
        make_user(name)
    assert [post(api_client, auth, n).status_code for n in ("ann", "ben")] == [403, 403]
    install_licence(settings, serial=99)  # the renewal
    assert [post(api_client, auth, n).status_code for n in ("ann", "ben")] == [202, 202]
    assert list(Trigger.objects.order_by("pk").values_list("status", flat=True)) == [
        "refused",
        "refused",
        "queued",
        "queued",
    ]
