"""Planning a user's round as a pure function: heartbeats, debounce, supersede, hold-back, licence,
known before decided, a lost answer — a table of queues and what the round must do with them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from presence.engine import EngineConfig, EventRuleSpec, Presence, PresetSpec, Sent, UserMemory
from presence.planning import QueuedTrigger, UserQueue, heartbeat_lost, plan_user

NOW = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)
T0 = NOW - timedelta(seconds=30)
LOCKED = PresetSpec("Away – screen locked", "away", "Screen locked since {time}")
CONFIG = EngineConfig(
    rules={
        "lock": EventRuleSpec("lock", "preset", LOCKED),
        "unlock": EventRuleSpec("unlock", "restore"),
        "logon": EventRuleSpec("logon", "preset", PresetSpec("Available", "", "")),
        "sleep": EventRuleSpec("sleep", "preset", PresetSpec("Away – computer asleep", "away", "Asleep since {time}")),
        "resume": EventRuleSpec("resume", "restore"),
    },
    overrides=(),
)
P_AVAILABLE = Presence("", "")
P_BUSY = Presence("busy", "Call")
P_LOCKED = Presence("away", "Screen locked since 09:00")


def t(n: int, event: str, seconds: float = 0, **fields: Any) -> QueuedTrigger:
    return QueuedTrigger(id=n, event=event, at=T0 + timedelta(seconds=seconds), **fields)


def queue(*triggers: QueuedTrigger, **fields: Any) -> UserQueue:
    values: dict[str, Any] = {"memory": UserMemory(), "current": P_BUSY}
    values.update(fields)
    return UserQueue(user_id=7, guid="g7", h323="alice", triggers=triggers, **values)


@dataclass(frozen=True)
class Row:
    queue: UserQueue
    outcomes: list[tuple[int, str, str]]  # (trigger, status, reason) in order
    sends: int | None = None  # the trigger sent to the PBX
    debounce: int = 0
    expect: dict[str, Any] = field(default_factory=dict)  # other UserRound fields


ROWS = [
    pytest.param(
        Row(
            queue(t(1, "heartbeat"), t(2, "heartbeat", 5)),
            [(1, "skipped", "heartbeat recorded"), (2, "skipped", "heartbeat recorded")],
            expect={"heartbeat_at": T0 + timedelta(seconds=5)},
        ),
        id="it_records_heartbeats_and_moves_the_heartbeat_clock",
    ),
    pytest.param(
        Row(
            queue(t(1, "heartbeat"), last_heartbeat_at=T0 + timedelta(minutes=1)),
            [(1, "skipped", "heartbeat recorded")],
            expect={"heartbeat_at": None},
        ),
        id="it_never_moves_the_heartbeat_clock_back",
    ),
    pytest.param(
        Row(queue(t(1, "heartbeat", 10), t(2, "lock")), [(1, "skipped", "heartbeat recorded")], sends=2),
        id="it_never_lets_a_newer_heartbeat_supersede_or_outdate_an_event",
    ),
    pytest.param(
        Row(
            queue(t(1, "lock"), t(2, "unlock", 3)),
            [
                (1, "skipped", "debounced: lock and unlock within 5 s"),
                (2, "skipped", "debounced: lock and unlock within 5 s"),
            ],
            debounce=5,
        ),
        id="it_debounces_a_lock_and_an_unlock_within_the_window",
    ),
    pytest.param(
        Row(
            queue(t(1, "lock"), t(2, "unlock", 5)),
            [
                (1, "skipped", "debounced: lock and unlock within 5 s"),
                (2, "skipped", "debounced: lock and unlock within 5 s"),
            ],
            debounce=5,
        ),
        id="it_debounces_at_the_window_edge",
    ),
    pytest.param(
        Row(
            queue(
                t(1, "lock"), t(2, "unlock", 6), current=P_LOCKED, memory=UserMemory(P_LOCKED, T0, "lock", saved=P_BUSY)
            ),
            [(1, "superseded", "superseded by a newer trigger (#2)")],
            sends=2,
            debounce=5,
        ),
        id="it_lets_an_unlock_after_the_window_through",
    ),
    pytest.param(
        Row(
            queue(
                t(1, "lock"), t(2, "unlock", 1), current=P_LOCKED, memory=UserMemory(P_LOCKED, T0, "lock", saved=P_BUSY)
            ),
            [(1, "superseded", "superseded by a newer trigger (#2)")],
            sends=2,
        ),
        id="it_never_debounces_when_off",
    ),
    pytest.param(
        Row(
            queue(t(1, "logon"), t(2, "lock", 1), t(3, "logon", 2)),
            [
                (1, "superseded", "superseded by a newer trigger (#3)"),
                (2, "superseded", "superseded by a newer trigger (#3)"),
            ],
            sends=3,
        ),
        id="it_supersedes_all_but_the_newest",
    ),
    pytest.param(
        Row(queue(t(1, "lock", 28)), [], debounce=5, expect={"due_in": 3.0}),
        id="it_holds_back_a_fresh_lock_for_the_debounce_window",
    ),
    pytest.param(
        Row(
            queue(t(1, "lock"), refusal=("not_licensed", "This user is not licensed.")),
            [(1, "skipped", "refused: This user is not licensed.")],
        ),
        id="it_refuses_an_unlicensed_user_without_waiting",
    ),
    pytest.param(
        Row(queue(t(1, "lock"), known=False, current=None), [], expect={"waiting": True}),
        id="it_waits_for_the_pbx_to_report_the_presence",
    ),
    pytest.param(
        Row(
            queue(t(1, "logon"), t(2, "lock", 1), known=False, current=None),
            [(1, "superseded", "superseded by a newer trigger (#2)")],
            expect={"waiting": True},
        ),
        id="it_supersedes_while_it_waits",
    ),
    pytest.param(
        Row(queue(t(1, "lock"), known=False, waited_out=True, current=None), [], sends=1),
        id="it_decides_with_presence_unknown_once_the_wait_is_over",
    ),
    pytest.param(
        Row(
            queue(t(1, "lock", sent=Sent("lock", P_BUSY, P_LOCKED)), current=P_LOCKED),
            [(1, "applied", "applied; the PBX's answer was lost with the link")],
            expect={"memory_saved": P_BUSY},
        ),
        id="it_records_a_send_the_pbx_shows_as_applied_and_remembers_what_it_replaced",
    ),
    pytest.param(
        Row(
            queue(t(1, "logon"), current=P_AVAILABLE), [(1, "skipped", "unchanged")], expect={"memory_set": P_AVAILABLE}
        ),
        id="it_stores_what_the_engine_remembers_when_nothing_is_sent",
    ),
    pytest.param(
        Row(
            queue(t(1, "sleep"), t(2, "resume", 40)),
            [(1, "superseded", "superseded by a newer trigger (#2)"), (2, "skipped", "nothing to restore")],
        ),
        id="it_sends_nothing_for_a_sleep_and_a_resume_that_waited_together",
    ),
    pytest.param(
        Row(queue(t(1, "sleep", 28)), [], sends=1, debounce=5),
        id="it_sends_a_sleep_at_once_whatever_the_debounce",
    ),
]


@pytest.mark.parametrize("row", ROWS)
def test_plan_user(row: Row) -> None:
    result = plan_user(row.queue, CONFIG, row.debounce, NOW)

    assert [(o.trigger_id, o.status, o.reason) for o in result.outcomes] == row.outcomes
    assert (result.send.trigger_id if result.send else None) == row.sends
    expect = dict(row.expect)
    if "memory_saved" in expect:
        assert result.memory is not None and result.memory.saved == expect.pop("memory_saved")
    if "memory_set" in expect:
        assert result.memory is not None and result.memory.set_presence == expect.pop("memory_set")
    assert result.heartbeat_at == expect.pop("heartbeat_at", result.heartbeat_at)
    assert result.waiting is expect.pop("waiting", False)
    assert result.due_in == expect.pop("due_in", None)
    assert not expect


def test_a_send_carries_what_a_re_decision_needs() -> None:
    result = plan_user(queue(t(1, "lock"), current=P_BUSY), CONFIG, 0, NOW)
    assert result.send is not None and result.memory is None  # the memory is stored once the PBX accepts
    assert result.send.details["before"] == P_BUSY.as_json()
    assert result.send.details["after"] == {"activity": "away", "note": "Screen locked since 09:00"}
    assert result.send.details["set_by"] == "lock"
    assert (result.send.user_id, result.send.guid) == (7, "g7")


def test_a_decision_with_the_presence_unknown_says_so() -> None:
    result = plan_user(queue(t(1, "lock"), known=False, waited_out=True, current=P_BUSY), CONFIG, 0, NOW)
    assert result.send is not None and result.send.details["before"] is None  # a stale value is not used
    assert "presence unknown" in result.send.details["rule"]


@pytest.mark.parametrize(
    ("last_beat", "timeout", "fired", "expected"),
    [
        pytest.param(NOW - timedelta(minutes=11), 10, False, True, id="it_expires_after_the_timeout"),
        pytest.param(NOW - timedelta(minutes=10), 10, False, False, id="it_waits_until_the_timeout_has_passed"),
        pytest.param(NOW - timedelta(minutes=11), 10, True, False, id="it_fires_only_once"),
        pytest.param(None, 10, False, False, id="it_ignores_users_that_never_sent_a_heartbeat"),
        pytest.param(NOW - timedelta(days=1), 0, False, False, id="it_never_expires_when_off"),
    ],
)
def test_heartbeat_lost(last_beat: datetime | None, timeout: int, fired: bool, expected: bool) -> None:
    assert heartbeat_lost(last_beat, fired, timeout, NOW) is expected


def test_planning_imports_without_django() -> None:
    code = "import sys; sys.modules['django'] = None; import presence.planning"
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=importlib.import_module("presence").__path__[0] + "/.."
    )
