"""Planning one round of the link worker: which queued triggers to decide now, and how.

Pure, like the engine beside it: dataclasses in, outcomes out, no database, no PBX, no Django. The
worker reads a user's queued triggers with what it knows of the user (`presence.link.store`), asks
`plan_user`, and writes what comes back (`triggers.queue`, `presence.link.store`).

For one user's queued triggers, oldest first, the steps are the contract (docs/configuration.md):

1. **heartbeats** only move the user's heartbeat clock: each is skipped `heartbeat recorded`;
2. **debounce**: a lock followed by an unlock within N seconds cancels out, both skipped;
3. **supersede**: of what is left only the newest trigger counts, the older ones are superseded;
4. **hold back** a fresh lock for the debounce window (an unlock may still cancel it);
5. **licence**: an unlicensed user (or an expired licence) is refused;
6. **known before decided**: wait until the PBX has reported the user's presence (or the wait ended);
7. a trigger sent before whose presence the PBX shows was **applied** (only its answer was lost);
8. otherwise **the engine decides** (presence.engine.decide): set a presence, or skip with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from presence import engine
from presence.engine import LOCK, EngineConfig, Presence, PresetSpec, Sent, UserMemory

HEARTBEAT = "heartbeat"
UNLOCK = "unlock"


@dataclass(frozen=True)
class QueuedTrigger:
    id: int
    event: str
    at: datetime
    received_at: datetime | None = None
    source: str = "api"
    device: str = ""
    sent: Sent | None = None  # what an earlier round sent for it, its answer never recorded
    preset: PresetSpec | None = None  # a button press's preset (None: not offered any more)


@dataclass(frozen=True)
class UserQueue:
    """One user's queued triggers (oldest first) and what the worker knows about the user."""

    user_id: int
    guid: str
    h323: str
    triggers: tuple[QueuedTrigger, ...]
    memory: UserMemory
    current: Presence | None  # what the PBX shows; None when it has not reported it (see `known`)
    known: bool = True  # the PBX reported the user's presence on this connection
    waited_out: bool = False  # the worker gave up waiting for that report
    refusal: tuple[str, str] | None = None  # (code, detail) when the licence forbids changes
    last_heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """A trigger's end: superseded, skipped, failed or applied, with what goes into its decision record."""

    trigger_id: int
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Send:
    """A decided trigger whose presence goes to the PBX; `memory` is stored once the PBX accepts it."""

    trigger_id: int
    user_id: int
    guid: str
    h323: str
    event: str
    source: str
    received_at: datetime | None
    target: Presence
    memory: UserMemory
    details: dict[str, Any]


@dataclass
class UserRound:
    outcomes: list[Outcome] = field(default_factory=list)
    send: Send | None = None
    memory: UserMemory | None = None  # store now: decided, nothing to send
    heartbeat_at: datetime | None = None  # a newer heartbeat: store it (and re-arm heartbeat-lost)
    waiting: bool = False  # the newest trigger waits for the PBX's report of the user's presence
    due_in: float | None = None  # seconds until a held-back lock is due


def plan_user(queue: UserQueue, config: EngineConfig, debounce_seconds: int, now: datetime) -> UserRound:
    """What this round does with one user's queued triggers (the steps in the module docstring)."""
    result = UserRound()
    triggers = list(queue.triggers)

    beats = [t for t in triggers if t.event == HEARTBEAT]
    if beats:
        newest_beat = max(t.at for t in beats)
        if queue.last_heartbeat_at is None or newest_beat > queue.last_heartbeat_at:
            result.heartbeat_at = newest_beat
        result.outcomes += [Outcome(t.id, "skipped", "heartbeat recorded") for t in beats]
        triggers = [t for t in triggers if t.event != HEARTBEAT]

    if debounce_seconds:
        triggers = _debounce(triggers, debounce_seconds, result)
    if not triggers:
        return result

    newest = triggers[-1]
    result.outcomes += [
        Outcome(t.id, "superseded", f"superseded by a newer trigger (#{newest.id})") for t in triggers[:-1]
    ]
    if debounce_seconds and newest.event == LOCK:
        due = (newest.at + timedelta(seconds=debounce_seconds) - now).total_seconds()
        if due > 0:
            result.due_in = due
            return result
    if queue.refusal is not None:
        code, detail = queue.refusal
        result.outcomes.append(Outcome(newest.id, "skipped", f"refused: {detail}", {"error": code}))
        return result
    if not queue.known and not queue.waited_out:
        result.waiting = True
        return result

    current = queue.current if queue.known else None
    decision = engine.decide(
        engine.TriggerInput(
            event=newest.event, at=newest.at, device=newest.device, source=newest.source, preset=newest.preset
        ),
        current,
        queue.memory,
        config,
        now,
        tuple(t.sent for t in queue.triggers if t.sent is not None),
    )
    if newest.sent is not None and current is not None and current.same_as(newest.sent.target):
        # Sent before the link (or the worker) went away, and the PBX shows it: it was applied, only
        # its answer was lost. The trigger keeps the decision it was sent with; the engine adopted it.
        result.outcomes.append(Outcome(newest.id, "applied", "applied; the PBX's answer was lost with the link"))
        result.memory = decision.memory
        return result
    details = {
        "rule": decision.rule,
        "preset": decision.preset,
        "before": decision.before.as_json() if decision.before else None,
        "after": decision.target.as_json() if decision.target else None,
        "set_by": decision.memory.set_by if decision.target is not None else "",
    }
    if decision.outcome == "set" and decision.target is not None:
        result.send = Send(
            trigger_id=newest.id,
            user_id=queue.user_id,
            guid=queue.guid,
            h323=queue.h323,
            event=newest.event,
            source=newest.source,
            received_at=newest.received_at,
            target=decision.target,
            memory=decision.memory,
            details=details,
        )
    else:
        result.outcomes.append(Outcome(newest.id, "skipped", decision.reason, details))
        result.memory = decision.memory
    return result


def _debounce(triggers: list[QueuedTrigger], seconds: int, result: UserRound) -> list[QueuedTrigger]:
    """A lock followed by an unlock within `seconds` sends nothing at all: both are skipped."""
    kept: list[QueuedTrigger] = []
    for trigger in triggers:
        previous = kept[-1] if kept else None
        if (
            trigger.event == UNLOCK
            and previous is not None
            and previous.event == LOCK
            and timedelta(0) <= trigger.at - previous.at <= timedelta(seconds=seconds)
        ):
            kept.pop()
            reason = f"debounced: lock and unlock within {seconds} s"
            result.outcomes += [Outcome(previous.id, "skipped", reason), Outcome(trigger.id, "skipped", reason)]
            continue
        kept.append(trigger)
    return kept


def heartbeat_lost(last_beat: datetime | None, fired: bool, timeout_minutes: int, now: datetime) -> bool:
    """Time to fire heartbeat-lost: beats were seen, then silence longer than the timeout, not fired yet.

    A user whose devices never sent a heartbeat is not watched; a timeout of 0 means the feature is off.
    """
    if last_beat is None or fired or timeout_minutes <= 0:
        return False
    return now - last_beat > timedelta(minutes=timeout_minutes)
