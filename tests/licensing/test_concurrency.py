"""Seats are race-free: 20 administrators switching users on at once, with 10 seats free.

Each thread has its own database connection (Django opens one per thread), so this is real
concurrency against the server: without the row lock several transactions would each count 5
seats used, each insert, and the licence would end up over its limit.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from licensing import seats
from licensing.models import Seat
from presence.models import PbxUser
from tests.licensing.support import install_licence

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.no_licence,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need a server database: SQLite serialises all writers anyway "
        "(run with `python -m tests.services -- pytest …` for PostgreSQL)",
    ),
]
PARALLEL = 20
FREE = 10


def switch_on_with_the_function(user: PbxUser, admin) -> bool:
    try:
        seats.set_switch([user.guid], True)
    except seats.SeatLimitExceeded:
        return False
    return True


def switch_on_through_the_endpoint(user: PbxUser, admin) -> bool:
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/presence/pbxuser/{user.pk}/licence-switch/",
        data=json.dumps({"on": True}),
        content_type="application/json",
    )
    assert response.status_code in (200, 409), response.content
    return response.status_code == 200


@pytest.mark.parametrize(
    "switch_on",
    [
        pytest.param(switch_on_with_the_function, id="set_switch"),
        pytest.param(switch_on_through_the_endpoint, id="json-endpoint"),
    ],
)
def test_twenty_parallel_switch_ons_with_ten_free_seats_let_exactly_ten_through(settings, admin_user, switch_on):
    install_licence(settings, seats=15)
    Seat.objects.bulk_create([Seat(user_guid=f"taken-{n}") for n in range(15 - FREE)])
    users = [PbxUser.objects.create(guid=f"{n:032x}", h323=f"racer{n}") for n in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)
    results: list[bool] = []
    errors: list[BaseException] = []

    def worker(user: PbxUser) -> None:
        try:
            start.wait()
            results.append(switch_on(user, admin_user))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert results.count(True) == FREE and results.count(False) == PARALLEL - FREE
    assert Seat.objects.count() == 15
    assert Seat.objects.filter(user_guid__in=[u.guid for u in users]).count() == FREE
