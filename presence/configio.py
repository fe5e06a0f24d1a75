"""Configuration as code: presets, event rules, override rules and settings as one JSON document.

Import validates the whole document before it touches the database and then replaces the
configuration in one transaction, so a broken file changes nothing. Errors name the place
(`event_rules[2].preset: unknown preset 'Awy'`). The format is documented in docs/configuration.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from presence.engine import regex_error
from presence.models import EventRule, OverrideRule, Preset, ServiceSettings, event_name_validator

FORMAT = "presence-heartbeat-config"
VERSION = 1
TOP_LEVEL_KEYS = ("format", "version", "settings", "presets", "event_rules", "override_rules")
ACTIVITY = re.compile(r"^([a-z][a-z-]{0,31})?$")
TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
# A rule for the heartbeat event could never act: a heartbeat changes no presence.
UNRULED_EVENTS = ("heartbeat",)


class ConfigError(Exception):
    """The document is not a valid configuration; `errors` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------- export


def _settings_fields() -> dict[str, type]:
    """The ServiceSettings fields that travel in the file, with their JSON type."""
    kinds: dict[str, type] = {}
    for f in ServiceSettings._meta.concrete_fields:
        if f.primary_key or not f.editable:
            continue
        if isinstance(f, models.BooleanField):
            kinds[f.name] = bool
        elif isinstance(f, models.IntegerField):
            kinds[f.name] = int
        elif isinstance(f, models.CharField | models.TextField):
            kinds[f.name] = str
    return kinds


def _time_text(value: dt.time | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def export_config() -> dict[str, Any]:
    """The current configuration as a JSON-ready dict; list order is the order that matters."""
    current = ServiceSettings.current()
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": {
            **{name: getattr(current, name) for name in _settings_fields()},
            "restore_fallback": current.restore_fallback.name if current.restore_fallback else None,
        },
        "presets": [
            {
                "name": p.name,
                "activity": p.activity,
                "note": p.note,
                "color": p.color,
                "show_on_user_page": p.show_on_user_page,
            }
            for p in Preset.objects.order_by("order", "name")
        ],
        "event_rules": [
            {
                "event": r.event,
                "action": r.action,
                "preset": r.preset.name if r.preset else None,
                "weekdays": list(r.weekdays or []),
                "start_time": _time_text(r.start_time),
                "end_time": _time_text(r.end_time),
            }
            for r in EventRule.objects.select_related("preset").order_by("event")
        ],
        "override_rules": [
            {
                "name": r.name,
                "activities": list(r.activities or []),
                "note_match": r.note_match,
                "note_pattern": r.note_pattern,
                "events": list(r.events or []),
                "decision": r.decision,
                "enabled": r.enabled,
            }
            for r in OverrideRule.objects.order_by("order", "id")
        ],
    }


def dump_config(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ validation


@dataclass(frozen=True)
class Key:
    """One key of an item: the JSON types it accepts and its value when missing (required if no default)."""

    types: tuple[type, ...]
    default: Any = ...
    item: type | None = None  # for lists: the type of each element

    @property
    def required(self) -> bool:
        return self.default is ...


_NONE = type(None)
PRESET_KEYS = {
    "name": Key((str,)),
    "activity": Key((str,), ""),
    "note": Key((str,), ""),
    "color": Key((str,), ""),
    "show_on_user_page": Key((bool,), False),
}
EVENT_RULE_KEYS = {
    "event": Key((str,)),
    "action": Key((str,), "preset"),
    "preset": Key((str, _NONE), None),
    "weekdays": Key((list,), [], item=int),
    "start_time": Key((str, _NONE), None),
    "end_time": Key((str, _NONE), None),
}
OVERRIDE_RULE_KEYS = {
    "name": Key((str,), ""),
    "activities": Key((list,), item=str),
    "note_match": Key((str,), "any"),
    "note_pattern": Key((str,), ""),
    "events": Key((list,), [], item=str),
    "decision": Key((str,), "protect"),
    "enabled": Key((bool,), True),
}
TYPE_WORDS = {str: "a string", bool: "true or false", int: "a whole number", list: "a list", _NONE: "null"}


def _is(value: Any, kind: type) -> bool:
    # JSON true is a Python int too; a weekday or a count must not be true.
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@dataclass
class Validated:
    """A valid document, as unsaved model instances in file order."""

    settings: dict[str, Any]  # restore_fallback is a preset name (or None), resolved when applied
    presets: list[Preset]
    event_rules: list[tuple[EventRule, str | None]]  # with the preset name it refers to
    override_rules: list[OverrideRule]


@dataclass
class Checker:
    errors: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def item(self, path: str, value: Any, keys: dict[str, Key]) -> dict[str, Any] | None:
        """The item's values with defaults filled in, or None when its shape is wrong."""
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        ok = True
        for key in value:
            if key not in keys:
                self.add(f"{path}.{key}", f"unknown key (expected one of: {', '.join(keys)})")
                ok = False
        values: dict[str, Any] = {}
        for key, spec in keys.items():
            if key not in value:
                if spec.required:
                    self.add(f"{path}.{key}", "is required")
                    ok = False
                values[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
                continue
            got = value[key]
            if not any(_is(got, t) for t in spec.types):
                self.add(f"{path}.{key}", "must be " + " or ".join(TYPE_WORDS[t] for t in spec.types))
                ok = False
            elif spec.item is not None:
                for i, element in enumerate(got):
                    if not _is(element, spec.item):
                        self.add(f"{path}.{key}[{i}]", f"must be {TYPE_WORDS[spec.item]}")
                        ok = False
            values[key] = got
        return values if ok else None

    def model(self, path: str, instance: models.Model, exclude: list[str] | None = None) -> None:
        """The model's own validation (field lengths, choices, validators), with paths."""
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                if exclude and name in exclude:
                    continue  # checked here with the file's own terms (like a ModelForm's excluded fields)
                where = path if name == NON_FIELD_ERRORS else f"{path}.{name}"
                for message in messages:
                    self.add(where, message)

    def time(self, path: str, value: str | None) -> dt.time | None:
        if value is None:
            return None
        try:
            if not TIME.match(value):
                raise ValueError
            return dt.time.fromisoformat(value)
        except ValueError:
            self.add(path, f"'{value}' is not a time like 07:30")
            return None

    def activity(self, path: str, value: str) -> None:
        if not ACTIVITY.match(value):
            self.add(
                path,
                f"'{value}' is not an activity: use \"\" (available), away, busy, dnd or another "
                "lower-case RFC 4480 activity",
            )


def parse_config(text: str, source: str = "input") -> Any:
    """The JSON document; syntax errors name the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{source}: line {exc.lineno} column {exc.colno}: {exc.msg}"]) from exc


def validate_config(data: Any) -> Validated:
    """Check every part of the document; raise ConfigError listing all problems."""
    check = Checker()
    if not isinstance(data, dict):
        raise ConfigError(["the file must hold one JSON object"])
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            check.add(key, f"unknown key (expected: {', '.join(TOP_LEVEL_KEYS)})")
    for key in TOP_LEVEL_KEYS:
        if key not in data:
            check.add(key, "is required")
    if "format" in data and data["format"] != FORMAT:
        check.add("format", f"must be '{FORMAT}'")
    if "version" in data and (not _is(data["version"], int) or data["version"] != VERSION):
        check.add("version", f"this service reads version {VERSION}, not {data['version']!r}")
    for key in ("presets", "event_rules", "override_rules"):
        if key in data and not isinstance(data[key], list):
            check.add(key, "must be a list")
    if check.errors:
        raise ConfigError(check.errors)

    settings = _validate_settings(check, data["settings"])
    presets = _validate_presets(check, data["presets"])
    fallback = settings.get("restore_fallback")
    if fallback is not None and fallback not in {p.name for p in presets}:
        check.add("settings.restore_fallback", f"unknown preset '{fallback}'")
    event_rules = _validate_event_rules(check, data["event_rules"], {p.name for p in presets})
    override_rules = _validate_override_rules(check, data["override_rules"])
    if check.errors:
        raise ConfigError(check.errors)
    return Validated(settings, presets, event_rules, override_rules)


def _validate_settings(check: Checker, value: Any) -> dict[str, Any]:
    kinds = _settings_fields()
    # Settings missing from the file take their defaults, so older exports stay importable.
    defaults = ServiceSettings()
    keys = {name: Key((kind,), getattr(defaults, name)) for name, kind in kinds.items()}
    keys["restore_fallback"] = Key((str, _NONE), None)
    values = check.item("settings", value, keys)
    if values is None:
        return {}
    fields = {name: v for name, v in values.items() if name != "restore_fallback"}
    check.model("settings", ServiceSettings(pk=1, **fields))
    return values


def _validate_presets(check: Checker, items: list[Any]) -> list[Preset]:
    presets: list[Preset] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"presets[{i}]"
        values = check.item(path, item, PRESET_KEYS)
        if values is None:
            continue
        preset = Preset(order=(i + 1) * 10, **values)
        check.model(path, preset)
        check.activity(f"{path}.activity", preset.activity)
        if preset.name in seen:
            check.add(f"{path}.name", f"'{preset.name}' is already presets[{seen[preset.name]}]")
        seen.setdefault(preset.name, i)
        presets.append(preset)
    return presets


def _validate_event_rules(
    check: Checker, items: list[Any], preset_names: set[str]
) -> list[tuple[EventRule, str | None]]:
    rules: list[tuple[EventRule, str | None]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"event_rules[{i}]"
        values = check.item(path, item, EVENT_RULE_KEYS)
        if values is None:
            continue
        preset_name = values.pop("preset")
        start = check.time(f"{path}.start_time", values.pop("start_time"))
        end = check.time(f"{path}.end_time", values.pop("end_time"))
        rule = EventRule(start_time=start, end_time=end, **values)
        check.model(path, rule, exclude=["preset"])
        if rule.event in UNRULED_EVENTS:
            check.add(f"{path}.event", "a heartbeat changes no presence; use heartbeat-lost")
        if rule.event in seen:
            check.add(f"{path}.event", f"'{rule.event}' already has a rule at event_rules[{seen[rule.event]}]")
        seen.setdefault(rule.event, i)
        for j, day in enumerate(rule.weekdays):
            if not 0 <= day <= 6:
                check.add(f"{path}.weekdays[{j}]", f"{day} is not a weekday (0 = Monday … 6 = Sunday)")
        if len(set(rule.weekdays)) != len(rule.weekdays):
            check.add(f"{path}.weekdays", "names a day twice")
        if preset_name is not None and preset_name not in preset_names:
            check.add(f"{path}.preset", f"unknown preset '{preset_name}'")
        if rule.action == EventRule.Action.PRESET and preset_name is None:
            check.add(f"{path}.preset", "is required when the action is 'preset'")
        rules.append((rule, preset_name))
    return rules


def _validate_override_rules(check: Checker, items: list[Any]) -> list[OverrideRule]:
    rules: list[OverrideRule] = []
    for i, item in enumerate(items):
        path = f"override_rules[{i}]"
        values = check.item(path, item, OVERRIDE_RULE_KEYS)
        if values is None:
            continue
        rule = OverrideRule(order=(i + 1) * 10, **values)
        check.model(path, rule)
        for j, activity in enumerate(rule.activities):
            check.activity(f"{path}.activities[{j}]", activity)
        for j, event in enumerate(rule.events):
            try:
                event_name_validator(event)
            except ValidationError as exc:
                check.add(f"{path}.events[{j}]", f"'{event}': {exc.messages[0]}")
        if rule.note_match == OverrideRule.NoteMatch.REGEX:
            problem = regex_error(rule.note_pattern)
            if problem:
                check.add(f"{path}.note_pattern", f"not a valid regular expression: {problem}")
        rules.append(rule)
    return rules


# ------------------------------------------------------------------------------------------------ import


@dataclass
class ImportPlan:
    """What an import changes (or would change, in a dry run)."""

    presets: dict[str, list[str]]
    event_rules: dict[str, list[str]]
    override_rules: str
    settings: list[str]

    def describe(self) -> str:
        def counts(kind: str, plan: dict[str, list[str]]) -> str:
            parts = [f"{len(names)} {what}" for what, names in plan.items() if names]
            detail = "; ".join(
                f"{what}: {', '.join(names)}" for what, names in plan.items() if names and what != "unchanged"
            )
            return f"{kind}: {', '.join(parts) or 'none'}" + (f" ({detail})" if detail else "")

        return "\n".join(
            [
                counts("presets", self.presets),
                counts("event rules", self.event_rules),
                f"override rules: {self.override_rules}",
                "settings: " + (", ".join(self.settings) or "unchanged"),
            ]
        )


PRESET_FIELDS = ("activity", "note", "color", "show_on_user_page", "order")
EVENT_RULE_FIELDS = ("action", "weekdays", "start_time", "end_time")
OVERRIDE_RULE_FIELDS = ("name", "activities", "note_match", "note_pattern", "events", "decision", "enabled")


def _differs(a: models.Model, b: models.Model, names: tuple[str, ...]) -> bool:
    return any(getattr(a, n) != getattr(b, n) for n in names)


def plan_import(valid: Validated) -> ImportPlan:
    existing_presets = {p.name: p for p in Preset.objects.all()}
    wanted_presets = {p.name for p in valid.presets}
    presets: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    for p in valid.presets:
        old = existing_presets.get(p.name)
        if old is None:
            presets["created"].append(p.name)
        else:
            presets["updated" if _differs(old, p, PRESET_FIELDS) else "unchanged"].append(p.name)
    presets["deleted"] = sorted(set(existing_presets) - wanted_presets)

    existing_rules = {r.event: r for r in EventRule.objects.select_related("preset")}
    rules: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    for r, preset_name in valid.event_rules:
        old = existing_rules.get(r.event)
        if old is None:
            rules["created"].append(r.event)
        else:
            changed = _differs(old, r, EVENT_RULE_FIELDS) or (old.preset.name if old.preset else None) != preset_name
            rules["updated" if changed else "unchanged"].append(r.event)
    rules["deleted"] = sorted(set(existing_rules) - {r.event for r, _ in valid.event_rules})

    old_overrides = [
        tuple(getattr(r, n) for n in OVERRIDE_RULE_FIELDS) for r in OverrideRule.objects.order_by("order", "id")
    ]
    new_overrides = [tuple(getattr(r, n) for n in OVERRIDE_RULE_FIELDS) for r in valid.override_rules]
    overrides = (
        "unchanged" if old_overrides == new_overrides else f"replaced ({len(old_overrides)} → {len(new_overrides)})"
    )

    current = ServiceSettings.objects.filter(pk=1).first() or ServiceSettings()
    now = {name: getattr(current, name) for name in _settings_fields()}
    now["restore_fallback"] = current.restore_fallback.name if current.restore_fallback else None
    settings = [f"{name} {now[name]!r} → {value!r}" for name, value in valid.settings.items() if now[name] != value]
    return ImportPlan(presets, rules, overrides, settings)


def import_config(text: str, *, source: str = "input", dry_run: bool = False) -> ImportPlan:
    """Validate the whole document, then (unless a dry run) replace the configuration in one transaction."""
    valid = validate_config(parse_config(text, source))
    with transaction.atomic():
        plan = plan_import(valid)
        if not dry_run:
            _write(valid)
    return plan


def _write(valid: Validated) -> None:
    settings = ServiceSettings.objects.select_for_update().filter(pk=1).first() or ServiceSettings(pk=1)
    for name, value in valid.settings.items():
        if name != "restore_fallback":
            setattr(settings, name, value)

    # Presets are matched by name and updated in place: event rules point at them (PROTECT), and so
    # may rows of other apps; their ids stay stable.
    existing = {p.name: p for p in Preset.objects.all()}
    by_name: dict[str, Preset] = {}
    for p in valid.presets:
        saved = existing.get(p.name) or p
        for name in PRESET_FIELDS:
            setattr(saved, name, getattr(p, name))
        saved.save()
        by_name[p.name] = saved
    fallback = valid.settings.get("restore_fallback")
    settings.restore_fallback = by_name[fallback] if fallback else None
    settings.save()

    rules = {r.event: r for r in EventRule.objects.all()}
    for r, preset_name in valid.event_rules:
        old = rules.pop(r.event, None)
        target = old or r
        if old is not None:
            for name in EVENT_RULE_FIELDS:
                setattr(old, name, getattr(r, name))
        target.preset = by_name[preset_name] if preset_name else None
        target.save()
    EventRule.objects.filter(pk__in=[r.pk for r in rules.values()]).delete()

    leftover = Preset.objects.exclude(name__in=list(by_name))
    try:
        leftover.delete()
    except models.ProtectedError as exc:
        users = sorted({str(o._meta.verbose_name) for o in exc.protected_objects})
        names = ", ".join(sorted(f"'{p.name}'" for p in leftover))
        raise ConfigError([f"presets: cannot delete {names}: still used by {', '.join(users)}"]) from exc

    OverrideRule.objects.all().delete()
    OverrideRule.objects.bulk_create(valid.override_rules)
