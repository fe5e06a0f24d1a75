"""The decision engine: what presence one trigger produces.

Pure on purpose: dataclasses in, a `Decision` out, no database, no PBX, no Django. The worker feeds it
the trigger, the user's current `tel:` presence, what the engine remembered last time and the admin's
configuration, applies the decision and stores the returned memory. Everything that needs a clock
gets it as an argument, so every rule can be tested as a table.

The order of the checks is the contract (docs/configuration.md explains it to admins):
stale → button press → logon clears "manual wins" → event rule → working hours →
repeated event → override rules → manual wins → preset or restore (or the fallback) → unchanged.

A current presence of None means the PBX has not reported it (the worker waited for it in vain); the
decision then says "presence unknown" in its rule text. A user the PBX reports without a `tel:` entry
is shown as available with no note, and is passed in as exactly that.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, tzinfo

import re2

NOTE_MAX_LENGTH = 255  # the PBX note and UserState.set_note hold this much
LOGON = "logon"
LOCK = "lock"
SLEEP = "sleep"
BUTTON = "button"
# Events whose preset stands in for the user for a while and remembers what it replaced, so that the
# "restore" event after it (unlock, resume) can put that back. Sleep behaves like lock.
SAVING_EVENTS = frozenset({LOCK, SLEEP})
# What set a presence, besides an event's preset: the user's own presence put back, the fallback when
# there was nothing to put back, a button press, a hand-set presence adopted as the baseline.
RESTORED, FALLBACK, MANUAL = "restore", "fallback", "manual"
# Presences a lock may save: the user's own. One this service set from a preset (a lock, a logoff…) never is.
USERS_OWN = frozenset({RESTORED, BUTTON, MANUAL})
ALREADY = {
    "lock": "already locked",
    "sleep": "already asleep",
    "logoff": "already logged off",
    "shutdown": "already shut down",
}
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PLACEHOLDER = re.compile(r"\{(time|date|device)\}")


@dataclass(frozen=True)
class Presence:
    """A `tel:` presence: activity ("" = available) and note."""

    activity: str = ""
    note: str = ""

    def same_as(self, other: Presence | None) -> bool:
        """Equal as the PBX shows it: activity case-insensitive, note without surrounding blanks."""
        if other is None:
            return False
        return (
            self.activity.strip().lower() == other.activity.strip().lower() and self.note.strip() == other.note.strip()
        )

    def describe(self) -> str:
        label = self.activity or "available"
        return f"{label} “{self.note}”" if self.note else label

    def as_json(self) -> dict[str, str]:
        """As stored in decision records and UserState.saved: {"activity": …, "note": …}."""
        return {"activity": self.activity, "note": self.note}


@dataclass(frozen=True)
class PresetSpec:
    name: str
    activity: str
    note: str  # may contain {time} {date} {device}

    def render(self, *, at: datetime, device: str, tz: tzinfo) -> Presence:
        return Presence(self.activity, render_note(self.note, at=at, device=device, tz=tz))


@dataclass(frozen=True)
class EventRuleSpec:
    event: str
    action: str  # "preset" | "restore" | "nothing"
    preset: PresetSpec | None = None
    weekdays: tuple[int, ...] = ()  # 0 = Monday … 6 = Sunday; empty = every day
    start: time | None = None  # in EngineConfig.tz; None = from midnight
    end: time | None = None  # exclusive; None = until midnight

    def describe(self) -> str:
        if self.action == "preset":
            what = f"preset '{self.preset.name}'" if self.preset else "preset (none chosen)"
        elif self.action == "restore":
            what = "restore"
        else:
            what = "do nothing"
        window = self.describe_window()
        return f"event rule {self.event} → {what}" + (f" ({window})" if window else "")

    def describe_window(self) -> str:
        parts = []
        if self.weekdays:
            parts.append(",".join(WEEKDAY_NAMES[d] for d in sorted(set(self.weekdays)) if 0 <= d <= 6))
        if self.start is not None or self.end is not None:
            start = self.start.strftime("%H:%M") if self.start else "00:00"
            end = self.end.strftime("%H:%M") if self.end else "24:00"
            parts.append(f"{start}–{end}")
        return " ".join(parts)

    def in_window(self, at: datetime, tz: tzinfo) -> bool:
        """Whether `at` lies in the working-hours window (start inclusive, end exclusive).

        A window that crosses midnight (22:00–06:00) belongs to the day it starts on: with weekdays
        Mon–Fri, Saturday 02:00 is still inside (Friday's night), Monday 02:00 is not.
        start == end means the whole day.
        """
        local = at.astimezone(tz)
        now = local.time().replace(tzinfo=None)
        day = local.weekday()
        start, end = self.start, self.end
        if start is not None and end is not None and start > end:
            if now >= start:
                owner = day
            elif now < end:
                owner = (day - 1) % 7
            else:
                return False
            return not self.weekdays or owner in self.weekdays
        if start is not None and end is not None and start == end:
            inside = True
        else:
            inside = (start is None or now >= start) and (end is None or now < end)
        return inside and (not self.weekdays or day in self.weekdays)


@dataclass(frozen=True)
class OverrideRuleSpec:
    name: str
    activities: tuple[str, ...]  # "" = available; empty tuple matches nothing
    note_match: str  # "any" | "contains" | "exact" | "regex"
    note_pattern: str = ""
    events: tuple[str, ...] = ()  # empty = every event
    decision: str = "protect"  # "protect" | "override"

    def matches(self, current: Presence, event: str) -> bool:
        if self.events and event not in self.events:
            return False
        if current.activity.strip().lower() not in {a.strip().lower() for a in self.activities}:
            return False
        return note_matches(self.note_match, self.note_pattern, current.note)

    def describe(self) -> str:
        return f"override rule '{self.name}' ({self.decision})"


AVAILABLE_FALLBACK = PresetSpec("Available", "", "")


@dataclass(frozen=True)
class EngineConfig:
    rules: dict[str, EventRuleSpec]
    overrides: tuple[OverrideRuleSpec, ...]
    manual_wins: bool = True
    tz: tzinfo = UTC
    # What unlock sets when nothing was saved but the PBX still shows our lock presence.
    fallback: PresetSpec = AVAILABLE_FALLBACK


@dataclass(frozen=True)
class UserMemory:
    """What the engine remembers about one user (mirrors presence.models.UserState)."""

    set_presence: Presence | None = None  # what this service set last (or adopted, see decide())
    set_at: datetime | None = None
    # What set it: the event whose preset it is ("lock", "logon", …), or RESTORED, FALLBACK, BUTTON, MANUAL.
    set_by: str = ""
    last_event_at: datetime | None = None  # `at` of the newest trigger decided for this user
    saved: Presence | None = None  # what lock replaced
    manual_since: datetime | None = None


@dataclass(frozen=True)
class TriggerInput:
    event: str
    at: datetime
    device: str = ""
    source: str = "api"  # "button" = the user pressed a preset (then `preset` is given)
    preset: PresetSpec | None = None


@dataclass(frozen=True)
class Sent:
    """A presence this service sent for a trigger whose answer was never recorded (link lost, worker died).

    `set_by` and `before` are what the decision said when it was sent: if the PBX shows `target`, the
    change is ours, and a lock among them replaced `before`.
    """

    set_by: str
    before: Presence | None
    target: Presence


@dataclass(frozen=True)
class Decision:
    outcome: str  # "set" | "skip"
    reason: str
    target: Presence | None  # for "set"
    rule: str  # the rule that decided, in words, for the trigger log
    preset: str | None  # preset name, or "restore"
    before: Presence | None  # the current presence
    memory: UserMemory  # store this after the decision

    @property
    def applies(self) -> bool:
        return self.outcome == "set"


def render_note(template: str, *, at: datetime, device: str, tz: tzinfo) -> str:
    """Fill {time} (HH:MM), {date} (YYYY-MM-DD) in `tz` and {device}.

    Anything else in braces stays as written: a note is admin text, not a format string, so
    "{lunch}" or a lone "{" must never crash a decision. The result is cut to what the PBX keeps.
    """
    local = at.astimezone(tz)
    values = {"time": local.strftime("%H:%M"), "date": local.strftime("%Y-%m-%d"), "device": device}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template).strip()[:NOTE_MAX_LENGTH]


def detect_manual_change(current: Presence | None, memory: UserMemory) -> bool:
    """The PBX shows a presence other than the one we set last: the user (or another app) changed it.

    Nothing set yet, or no presence reported by the PBX, is not a manual change: there is nothing to
    compare.
    """
    return memory.set_presence is not None and current is not None and not current.same_as(memory.set_presence)


# Override-rule patterns are matched by RE2, in time linear in the note: the note may carry
# {device}, which any API key holder controls, and a backtracking matcher on `(a+)+$` held the GIL
# for seconds per character. RE2 has no back-references or look-arounds; such patterns are refused.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
_RE2_OPTIONS.log_errors = False  # our message says why; RE2 would also print to stderr itself
REGEX_LIMITS = "patterns are matched in linear time, so back-references and look-arounds are not supported"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re2._Regexp | None:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error:
        return None


def note_matches(mode: str, pattern: str, note: str) -> bool:
    """Case-insensitive note test of an override rule; a pattern RE2 refuses matches nothing."""
    if mode == "any":
        return True
    if mode == "contains":
        return pattern.casefold() in note.casefold()
    if mode == "exact":
        return pattern.strip().casefold() == note.strip().casefold()
    if mode == "regex":
        compiled = _compiled(pattern)
        return compiled is not None and compiled.search(note) is not None
    return False


def regex_error(pattern: str) -> str | None:
    """Why RE2 refuses a pattern (for validation, in words for people), or None."""
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return f"{detail or 'not a regular expression'} ({REGEX_LIMITS})"
    return None


def decide(
    trigger: TriggerInput,
    current: Presence | None,
    memory: UserMemory,
    config: EngineConfig,
    now: datetime,
    unconfirmed: tuple[Sent, ...] = (),
) -> Decision:
    """What one trigger does to one user's presence, and what to remember afterwards.

    `unconfirmed` are presences this service sent without recording the PBX's answer (the worker
    died or the link dropped in between): if the PBX shows one of them, it is ours, not a hand-set one.
    """
    decision = _decide(trigger, current, adopt_unconfirmed(current, memory, unconfirmed, now), config, now)
    if current is None:
        return replace(decision, rule=f"{decision.rule}; presence unknown: the PBX did not report it")
    return decision


def _decide(
    trigger: TriggerInput, current: Presence | None, memory: UserMemory, config: EngineConfig, now: datetime
) -> Decision:
    button = trigger.source == BUTTON and trigger.preset is not None
    # A button press happens now, on the server: a device clock running ahead must not swallow it.
    if not button and memory.last_event_at is not None and trigger.at < memory.last_event_at:
        ordering = f"ordering: older than the last decided trigger ({memory.last_event_at.isoformat()})"
        return _skip("stale", ordering, current, memory)

    mem = memory
    if memory.last_event_at is None or trigger.at > memory.last_event_at:
        mem = replace(mem, last_event_at=trigger.at)
    changed_by_hand = detect_manual_change(current, memory)
    if config.manual_wins and changed_by_hand and mem.manual_since is None:
        mem = replace(mem, manual_since=now)

    if button:
        assert trigger.preset is not None  # narrowed by `button`
        target = trigger.preset.render(at=trigger.at, device=trigger.device, tz=config.tz)
        mem = replace(mem, manual_since=None)
        pressed = f"button: preset '{trigger.preset.name}'"
        return _set(target, current, mem, now, pressed, trigger.preset.name, set_by=BUTTON)

    manual = config.manual_wins and (changed_by_hand or memory.manual_since is not None)
    if trigger.event == LOGON:
        # The user is back: "manual wins" ends here, whatever the logon rule then does. Their hand-set
        # presence becomes the baseline, otherwise the very next lock would flag it again.
        if changed_by_hand:
            mem = _adopt(mem, current, now, MANUAL)
        mem = replace(mem, manual_since=None)
        manual = False

    rule = config.rules.get(trigger.event)
    if rule is None:
        return _skip("no rule", f"no event rule for '{trigger.event}'", current, mem)
    described = rule.describe()
    if rule.action == "nothing":
        return _skip("rule: do nothing", described, current, mem)
    if rule.action == "preset" and rule.preset is None:
        return _skip("no rule", described, current, mem)
    if not rule.in_window(trigger.at, config.tz):
        return _skip("outside working hours", described, current, mem)
    repeated = rule.action == "preset" and mem.set_by == trigger.event
    if repeated and current is not None and current.same_as(mem.set_presence):
        # A second lock while the first lock's presence still shows (two devices, a script firing
        # twice): nothing to send, and the first lock's time and saved presence stay.
        return _skip(ALREADY.get(trigger.event, f"already set by {trigger.event}"), described, current, mem)

    override = _first_override(current, trigger.event, config.overrides)
    if override is not None and override.decision == "protect":
        return _skip(f"protected: {override.name}", override.describe(), current, mem)
    if manual and override is None:
        since = (mem.manual_since or now).isoformat()
        return _skip("manual change protected", f"manual wins (changed by hand, noticed {since})", current, mem)
    if override is not None:
        described = f"{described}; {override.describe()}"

    if rule.action == "restore":
        return _restore(trigger, current, mem, now, described, config)
    assert rule.preset is not None  # checked above
    target = rule.preset.render(at=trigger.at, device=trigger.device, tz=config.tz)
    if trigger.event in SAVING_EVENTS:
        mem = replace(mem, saved=_what_lock_replaces(current, mem))
        return _set(target, current, mem, now, described, rule.preset.name, set_by=trigger.event, keep_saved=True)
    return _set(target, current, mem, now, described, rule.preset.name, set_by=trigger.event)


def adopt_unconfirmed(
    current: Presence | None, memory: UserMemory, unconfirmed: tuple[Sent, ...], now: datetime
) -> UserMemory:
    """Take a presence we sent but never saw confirmed as our own when the PBX shows it, with what that
    decision would have remembered: a lock's saved presence is what the PBX showed before it."""
    if current is None or current.same_as(memory.set_presence):
        return memory
    for sent in reversed(unconfirmed):  # the newest first: it is the one the PBX took last
        if current.same_as(sent.target):
            saved = _what_lock_replaces(sent.before, memory) if sent.set_by in SAVING_EVENTS else None
            return replace(memory, set_presence=current, set_at=now, set_by=sent.set_by, saved=saved)
    return memory


def _first_override(
    current: Presence | None, event: str, rules: tuple[OverrideRuleSpec, ...]
) -> OverrideRuleSpec | None:
    # No presence reported means nothing to protect: the rules describe a presence the user has.
    if current is None:
        return None
    return next((r for r in rules if r.matches(current, event)), None)


def _what_lock_replaces(current: Presence | None, mem: UserMemory) -> Presence | None:
    """The presence a lock (or sleep) saves for unlock (or resume): the user's own, never one this service
    set from a preset."""
    ours = current is None or current.same_as(mem.set_presence)
    if ours and mem.set_by in SAVING_EVENTS:
        return mem.saved  # still locked or asleep (another device, a repeat): what the first one replaced
    if current is None or (ours and mem.set_by not in USERS_OWN):
        return None  # unknown, or our own "screen locked"/"logged off": unlock falls back instead
    return current


def _restore(
    trigger: TriggerInput,
    current: Presence | None,
    mem: UserMemory,
    now: datetime,
    described: str,
    config: EngineConfig,
) -> Decision:
    # The PBX still shows what we set (or cannot tell us otherwise): nobody changed it since.
    still_ours = mem.set_presence is not None and (current is None or current.same_as(mem.set_presence))
    if mem.saved is not None:
        if not still_ours:
            since = mem.set_by if mem.set_by in SAVING_EVENTS else LOCK
            return _skip(f"restore: presence changed since {since}", described, current, replace(mem, saved=None))
        return _set(mem.saved, current, replace(mem, saved=None), now, described, "restore", set_by=RESTORED)
    if still_ours and mem.set_by in SAVING_EVENTS:
        # Nothing was saved (the lock did not know the presence), but our lock presence still shows:
        # nobody who unlocked is left "screen locked".
        fallback = config.fallback
        target = fallback.render(at=trigger.at, device=trigger.device, tz=config.tz)
        rule = f"{described}; nothing to restore: fallback '{fallback.name}'"
        return _set(target, current, mem, now, rule, fallback.name, set_by=FALLBACK)
    return _skip("nothing to restore", described, current, mem)


def _set(
    target: Presence,
    current: Presence | None,
    mem: UserMemory,
    now: datetime,
    rule: str,
    preset: str,
    *,
    set_by: str,
    keep_saved: bool = False,
) -> Decision:
    # Whatever shows from here on is ours, not a hand-set presence that "manual wins" protects.
    mem = replace(mem, manual_since=None)
    if target.same_as(current):
        # No PBX round trip; the PBX already shows what we want, so that is our baseline now.
        return Decision("skip", "unchanged", None, rule, preset, current, _adopt(mem, target, now, set_by))
    # Any change other than lock's own makes what lock saved meaningless (it is no longer showing
    # what lock set), so a later unlock has nothing to put back.
    mem = replace(mem, set_presence=target, set_at=now, set_by=set_by, saved=mem.saved if keep_saved else None)
    return Decision("set", "", target, rule, preset, current, mem)


def _adopt(mem: UserMemory, presence: Presence | None, now: datetime, set_by: str) -> UserMemory:
    if presence is None or presence.same_as(mem.set_presence):
        return mem
    return replace(mem, set_presence=presence, set_at=now, set_by=set_by)


def _skip(reason: str, rule: str, current: Presence | None, mem: UserMemory) -> Decision:
    return Decision("skip", reason, None, rule, None, current, mem)
