"""PbxTableUsers replication through the worker: a big directory, and live changes within a second."""

from __future__ import annotations

import time

import pytest

from presence.models import PbxUser
from tests.e2e.stack import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_users():
    """5,000 users: the size the issue names for the initial replication."""
    from presence.pbx.simulator import generate_users

    return generate_users(5000)


def test_5000_users_replicate_and_a_live_change_shows_within_a_second(server, sim):
    assert PbxUser.objects.filter(active=True).count() == 5000
    target = sim.simulator.users[4321]
    started = time.monotonic()
    sim.call(sim.simulator.update_user, target.guid, cn="Renamed User", e164="99999")
    wait_until(
        lambda: PbxUser.objects.filter(guid=target.guid, cn="Renamed User", e164="99999").exists(),
        1.0,
        interval=0.02,
        message="the live update in the directory",
    )
    assert time.monotonic() - started <= 1.0


def test_a_user_removed_on_the_pbx_becomes_inactive_but_keeps_its_history(server, sim):
    target = sim.simulator.users[7]
    sim.call(sim.simulator.delete_user, target.guid)
    wait_until(lambda: PbxUser.objects.filter(guid=target.guid, active=False).exists(), 2, message="removal")
    assert PbxUser.objects.filter(guid=target.guid).count() == 1
