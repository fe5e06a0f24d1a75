"""Computer-level events end to end: `runheartbeat` against the simulator, triggers posted over HTTP as a
shutdown script and the users' own tasks would, and what the PBX shows at the end.

alice and bob work on the terminal server TS-01 (each in a session of their own), carol on PC-7.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from presence.models import EventRule, PbxUser, Preset
from presence.pbx.simulator import SimUser
from tests.e2e.stack import settled, shown, wait_until
from triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_users():
    return [
        SimUser(guid=f"{0xA11CE0 + n:032x}", h323=name, cn=name.title())
        for n, name in enumerate(("alice", "bob", "carol"))
    ]


@pytest.fixture
def sleep_rules(rules):
    """The defaults for sleep and resume (the `rules` fixture flushed the data migration's); asked for before
    the server, so that its first round already knows them (it re-reads rules every 2 s)."""
    asleep = Preset.objects.create(name="Away – computer asleep", activity="away", note="Computer asleep since {time}")
    EventRule.objects.create(event="sleep", action="preset", preset=asleep)
    EventRule.objects.create(event="resume", action="restore")


def post(server, key: str, **body: str) -> dict:
    code, answer = server.post(key, body)
    assert code == 202, answer
    return answer


def sent_to(sim, user) -> list[dict]:
    def read() -> list[dict]:
        return [m for m in sim.simulator.received if m.get("guid") == user.guid]

    return sim.call(read)


def subscribed(sim, user) -> None:
    def watched() -> bool:
        return user.guid in sim.simulator.subscriptions

    wait_until(lambda: sim.call(watched), 60, message=f"the presence subscription of {user.h323}")


def handed_out(device: Trigger) -> dict[str, Trigger]:
    """The device trigger's per-user triggers, once each is decided, by user."""
    wait_until(
        lambda: not Trigger.objects.filter(parent=device, status="queued").exists(),
        60,
        message=f"the users' triggers of device trigger {device.pk} to be decided",
    )
    return {t.pbx_user.h323: t for t in Trigger.objects.filter(parent=device).select_related("pbx_user")}


@pytest.fixture
def on_their_computers(server, sim, key):
    """alice and bob log on to TS-01 in sessions of their own; carol's PC-7 sends its heartbeat (which
    sets no presence: what she sets on her phone stays hers, not a change made by hand against us)."""
    alice, bob, carol = sim.simulator.users
    for user in (alice, bob, carol):
        subscribed(sim, user)
    for user, event, device in (
        (alice, "logon", "TS-01/RDP-Tcp#1"),
        (bob, "logon", "ts-01/RDP-Tcp#2"),
        (carol, "heartbeat", "PC-7"),
    ):
        settled(post(server, key, user=user.h323, event=event, device=device)["id"])
    return alice, bob, carol


def test_a_terminal_server_shutdown_reaches_everyone_on_it_and_nobody_else(on_their_computers, server, sim, key):
    alice, bob, carol = on_their_computers
    carol_before = sent_to(sim, carol)

    answer = post(server, key, event="shutdown", device="TS-01")

    assert answer["status"] == "queued" and "user" not in answer
    device = settled(answer["id"])
    assert (device.status, device.reason) == ("dispatched", "for 2 user(s) on this device: alice, bob")
    decided = handed_out(device)
    assert sorted(decided) == ["alice", "bob"]
    assert {t.status for t in decided.values()} == {"applied"}
    assert shown(sim, alice) == shown(sim, bob) == ("away", "Shut down")
    assert shown(sim, carol) == ("", "") and sent_to(sim, carol) == carol_before


def test_a_shutdown_of_a_computer_nobody_is_on_is_logged_and_changes_nothing(on_their_computers, server, sim, key):
    alice, bob, carol = on_their_computers
    device = settled(post(server, key, event="shutdown", device="PC-404")["id"])
    assert (device.status, device.reason) == ("skipped", "nobody on this device")
    assert not Trigger.objects.filter(parent=device).exists()
    assert [shown(sim, u) for u in (alice, bob, carol)] == [("", "")] * 3


def test_sleep_then_resume_of_a_computer_puts_back_what_its_user_had(sleep_rules, on_their_computers, server, sim, key):
    _, _, carol = on_their_computers
    sim.call(sim.simulator.set_presence_from_phone, carol.guid, "busy", "Writing the report")
    wait_until(
        lambda: PbxUser.objects.get(guid=carol.guid).contact("tel:").get("note") == "Writing the report",
        60,
        message="carol's presence to reach the directory",
    )

    slept = settled(post(server, key, event="sleep", device="pc-7")["id"])
    (asleep,) = handed_out(slept).values()
    assert asleep.status == "applied"
    assert asleep.decision["before"] == {"activity": "busy", "note": "Writing the report"}
    assert shown(sim, carol) == ("away", f"Computer asleep since {timezone.localtime(slept.at):%H:%M}")

    woke = settled(post(server, key, event="resume", device="PC-7")["id"])
    (resumed,) = handed_out(woke).values()
    assert (resumed.status, resumed.decision["preset"]) == ("applied", "restore")
    assert shown(sim, carol) == ("busy", "Writing the report")
