"""The per-user licence switch in the PBX users list: JSON endpoint, bulk actions, filter, search."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import Seat
from licensing.signals import licence_changed
from licensing.state import revision
from presence.models import PbxUser
from tests.licensing.support import install_licence

pytestmark = [pytest.mark.django_db, pytest.mark.no_licence]
LIST = "/admin/presence/pbxuser/"


def switch_url(user: PbxUser) -> str:
    return f"{LIST}{user.pk}/licence-switch/"


def flip(client: Client, user: PbxUser, on, **extra):
    return client.post(switch_url(user), data=json.dumps({"on": on}), content_type="application/json", **extra)


@pytest.fixture
def three_seats(settings):
    """A licence with three seats: enough for the happy paths, small enough to run out."""
    return install_licence(settings, seats=3)


def test_switching_on_takes_effect_at_once_and_is_announced(
    admin_client, make_user, three_seats, django_capture_on_commit_callbacks
):
    ann = make_user("ann", licensed=False)
    heard: list[object] = []
    licence_changed.connect(lambda sender, **kw: heard.append(sender), weak=False, dispatch_uid="test-heard")
    try:
        before = revision()
        with django_capture_on_commit_callbacks(execute=True):
            response = flip(admin_client, ann, True)
    finally:
        licence_changed.disconnect(dispatch_uid="test-heard")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "on": True, "changed": True, "seats_used": 1, "seats_total": 3}
    assert Seat.objects.filter(user_guid=ann.guid).exists()
    # Heard once in this process at commit; other processes (the link worker) see the revision move.
    assert len(heard) == 1 and revision() == before + 1


def test_switching_off_frees_the_seat(admin_client, make_user, three_seats):
    ann = make_user("ann")
    response = flip(admin_client, ann, False)
    assert response.status_code == 200 and response.json()["on"] is False and response.json()["seats_used"] == 0
    assert not Seat.objects.exists()


def test_a_switch_already_in_place_changes_nothing_and_tells_nobody(admin_client, make_user, three_seats):
    ann = make_user("ann")
    before = revision()
    response = flip(admin_client, ann, True)
    assert response.status_code == 200 and response.json()["changed"] is False
    assert revision() == before


def test_beyond_the_seats_it_is_refused_and_the_switch_stays_off(admin_client, make_user, three_seats):
    for name in ("ann", "ben", "cat"):
        make_user(name)
    dan = make_user("dan", licensed=False)
    before = revision()
    response = flip(admin_client, dan, True)
    assert response.status_code == 409
    body = response.json()
    assert body["ok"] is False and body["error"] == "seat_limit" and body["on"] is False
    assert body["detail"].startswith("Not enough seats: 3 of 3 in use, 0 free")
    assert not Seat.objects.filter(user_guid=dan.guid).exists() and Seat.objects.count() == 3
    assert revision() == before


@pytest.mark.parametrize(
    ("body", "method", "status", "error"),
    [
        pytest.param("{not json", "post", 400, "invalid", id="not-json"),
        pytest.param('{"on": "yes"}', "post", 400, "invalid", id="on-not-boolean"),
        pytest.param('{"on": ' + "[" * 1000 + "]" * 1000 + "}", "post", 400, "invalid", id="nested-1000-deep"),
        pytest.param("", "get", 405, "method_not_allowed", id="get"),
    ],
)
def test_it_answers_bad_requests_with_json(admin_client, make_user, three_seats, body, method, status, error):
    ann = make_user("ann", licensed=False)
    if method == "get":
        response = admin_client.get(switch_url(ann))
    else:
        response = admin_client.post(switch_url(ann), data=body, content_type="application/json")
    assert response.status_code == status and response.json()["error"] == error
    assert not Seat.objects.exists()


def test_an_unknown_user_is_404(admin_client, three_seats):
    response = admin_client.post(f"{LIST}999999/licence-switch/", data='{"on": true}', content_type="application/json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_staff_without_the_licensing_permission_cannot_flip_switches(client, django_user_model, make_user, three_seats):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_pbxuser"))
    client.force_login(clerk)
    ann = make_user("ann", licensed=False)
    response = flip(client, ann, True)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert not Seat.objects.exists()
    page = client.get(LIST).content.decode()
    assert "You may not change licence switches." in page and "license_selected" not in page
    clerk.user_permissions.add(Permission.objects.get(codename="change_seat"))
    client.force_login(clerk)
    assert flip(client, ann, True).status_code == 200


def test_it_needs_a_signed_in_staff_member_and_a_csrf_token(make_user, admin_user, three_seats):
    ann = make_user("ann", licensed=False)
    anonymous = flip(Client(), ann, True)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert flip(strict, ann, True).status_code == 403  # no CSRF token
    strict.get(LIST)  # sets the CSRF cookie, as the page does for its script
    token = strict.cookies["csrftoken"].value
    assert flip(strict, ann, True, HTTP_X_CSRFTOKEN=token).status_code == 200
    assert Seat.objects.filter(user_guid=ann.guid).exists()


def test_the_list_shows_each_users_switch_and_the_seats(admin_client, make_user, three_seats):
    ann = make_user("ann")
    ben = make_user("ben", licensed=False)
    page = admin_client.get(LIST).content.decode()
    assert f'data-url="{switch_url(ann)}" aria-label="Licence for ann" checked>' in page
    assert f'data-url="{switch_url(ben)}" aria-label="Licence for ben">' in page
    assert "<span data-seats-used>1</span> of <span data-seats-total>3</span>" in page


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("yes", {"ann"}, id="licensed"),
        pytest.param("no", {"ben", "cat"}, id="not-licensed"),
        pytest.param(None, {"ann", "ben", "cat"}, id="all"),
    ],
)
def test_the_licensed_filter(admin_client, make_user, three_seats, value, shown):
    make_user("ann")
    make_user("ben", licensed=False)
    make_user("cat", licensed=False)
    page = admin_client.get(LIST, {"licensed": value} if value else {}).content.decode()
    assert {name for name in ("ann", "ben", "cat") if f'aria-label="Licence for {name}"' in page} == shown


def test_bulk_license_obeys_the_seat_limit_all_or_nothing(admin_client, make_user, three_seats):
    users = [make_user(name, licensed=False) for name in ("ann", "ben", "cat", "dan")]
    before = revision()
    response = admin_client.post(
        LIST, {"action": "license_selected", "_selected_action": [u.pk for u in users]}, follow=True
    )
    assert "No licence was switched on. Not enough seats: 0 of 3 in use, 3 free, and 4 more users" in (
        response.content.decode()
    )
    assert not Seat.objects.exists() and revision() == before
    response = admin_client.post(
        LIST, {"action": "license_selected", "_selected_action": [u.pk for u in users[:3]]}, follow=True
    )
    assert "Licence switched on for 3 users; 0 were already on." in response.content.decode()
    assert Seat.objects.count() == 3 and revision() == before + 1


def test_bulk_unlicense(admin_client, make_user, three_seats):
    users = [make_user(name) for name in ("ann", "ben")]
    response = admin_client.post(
        LIST, {"action": "unlicense_selected", "_selected_action": [u.pk for u in users]}, follow=True
    )
    assert "Licence switched off for 2 users" in response.content.decode()
    assert not Seat.objects.exists()


def make_directory(n: int) -> None:
    """n PBX users the fast way: one executemany, keys filled as save() would.

    The ORM's bulk_create spends seconds compiling 50,000 rows. The columns still come from the
    model, so a field added later is filled with its default here too; text goes in as it is, and
    only other values (JSON, dates) are converted by their field.
    """
    fields = [f for f in PbxUser._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    rows = []
    for i in range(n):
        user = PbxUser(
            guid=f"{i:032x}", h323=f"user{i:05d}", cn=f"Person {i:05d}", e164=f"{10000 + i}",
            emails=[f"user{i:05d}@corp.example"],
        )  # fmt: skip
        user.fill_keys()
        row = []
        for field in fields:
            value = now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) else None
            value = value or getattr(user, field.attname)
            row.append(value if isinstance(value, str) else field.get_db_prep_save(value, connection))
        rows.append(row)
    table, columns = PbxUser._meta.db_table, ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",  # noqa: S608
            rows,
        )


SEARCHES = [
    ("user04711", "user04711"),  # login name
    ("Person 31337", "user31337"),  # name, two words
    ("14711", "user04711"),  # number
    ("USER49999@CORP.EXAMPLE", "user49999"),  # e-mail, any case
]


def test_searching_fifty_thousand_users_finds_each_in_a_few_queries(admin_client, settings):
    """How long a search takes is measured by tests/bench/bench_directory.py (50,000 users, ≤ 200 ms)."""
    install_licence(settings, seats=10)
    make_directory(50_000)
    admin_client.get(LIST)  # warm caches and the session
    for term, expect in SEARCHES:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(LIST, {"q": term})
        assert response.status_code == 200 and f'aria-label="Licence for {expect}"' in response.content.decode(), term
        assert len(queries) <= 8, [q["sql"] for q in queries]
