"""PbxTableUsers replication through the worker: a big directory, and live changes.

How fast a live change reaches the directory is measured by tests/bench/bench_directory.py.
"""

from __future__ import annotations

import pytest

from presence.models import PbxUser
from tests.e2e.stack import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_users():
    """5,000 users: the size the issue names for the initial replication."""
    from presence.pbx.simulator import generate_users

    return generate_users(5000)


def test_5000_users_replicate_and_a_live_change_shows(server, sim):
    assert PbxUser.objects.filter(active=True).count() == 5000
    target = sim.simulator.users[4321]
    sim.call(sim.simulator.update_user, target.guid, cn="Renamed User", e164="99999")
    wait_until(
        lambda: PbxUser.objects.filter(guid=target.guid, cn="Renamed User", e164="99999").exists(),
        60,
        message="the live update in the directory",
    )


def test_a_user_removed_on_the_pbx_becomes_inactive_but_keeps_its_history(server, sim):
    target = sim.simulator.users[7]
    sim.call(sim.simulator.delete_user, target.guid)
    wait_until(lambda: PbxUser.objects.filter(guid=target.guid, active=False).exists(), 60, message="removal")
    assert PbxUser.objects.filter(guid=target.guid).count() == 1
