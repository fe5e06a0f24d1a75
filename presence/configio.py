"""Configuration as code: presets, event rules, override rules and settings as one JSON document.

Import validates the whole document before it touches the database and then replaces the
configuration in one transaction, so a broken file changes nothing. Errors name the place
(`event_rules[2].preset: unknown preset 'Awy'`). The format is documented in docs/configuration.md;
the serializers below define it, for export and import alike.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from presence.engine import regex_error
from presence.models import (
    EventRule,
    OverrideRule,
    Preset,
    ServiceSettings,
    activity_validator,
    event_name_validator,
)

FORMAT = "presence-heartbeat-config"
VERSION = 1
# A rule for the heartbeat event could never act: a heartbeat changes no presence.
UNRULED_EVENTS = ("heartbeat",)
M = TypeVar("M", bound=models.Model)


class ConfigError(Exception):
    """The document is not a valid configuration; `errors` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------- format


class JsonTyped(serializers.Field):
    """DRF reads "5" as 5, "yes" as true and 5 as "5"; a configuration file means what it says."""

    json_type: type = object

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, self.json_type) or (isinstance(data, bool) and self.json_type is not bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class Bool(JsonTyped, serializers.BooleanField):
    json_type = bool


class Int(JsonTyped, serializers.IntegerField):
    json_type = int


class Text(JsonTyped, serializers.CharField):
    """A string as it stands: no trimming, blank allowed (the model says where it is not)."""

    json_type = str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_blank=True, trim_whitespace=False, **kwargs)


class PresetName(Text):
    """A preset, by its name in the same file (the context's `preset_names`: None when there is no list)."""

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        names = self.context["preset_names"]
        if names is not None and name not in names:
            raise ValidationError(f"unknown preset '{name}'")
        return name

    def to_representation(self, value: Preset) -> str:
        return value.name


class ClockTime(serializers.TimeField):
    """ "07:30" or "07:30:15", written back the same way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%H:%M", "%H:%M:%S"], required=False, allow_null=True, **kwargs)

    def to_representation(self, value: dt.time) -> str:
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")


ACTIVITY = RegexValidator(
    activity_validator.regex,
    "'%(value)s' is not an activity: use \"\" (available), away, busy, dnd or another lower-case RFC 4480 activity",
)
EVENT_NAME = RegexValidator(event_name_validator.regex, "'%(value)s': " + event_name_validator.message)
NOT_A_WEEKDAY = "%(value)s is not a weekday (0 = Monday … 6 = Sunday)"
WEEKDAY = [MinValueValidator(0, NOT_A_WEEKDAY), MaxValueValidator(6, NOT_A_WEEKDAY)]


def each_day_once(days: list[int]) -> None:
    if len(set(days)) != len(days):
        raise ValidationError("names a day twice")


def full_clean(instance: M, skip: tuple[str, ...] = (), **also: str | None) -> M:
    """The instance, once neither the model's own validation (lengths, choices, validators, clean()) nor
    `also` (a problem by field, or None) found a problem. The serializer checks `skip` in its own terms;
    a field's problem in `also` says in the file's terms what the model found there, so it stands alone."""
    problems: dict[str, list[str]] = {}
    try:
        instance.full_clean(exclude=skip, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        problems = {name: messages for name, messages in exc.message_dict.items() if name not in skip}
    for name, message in also.items():
        if message:
            problems[name] = [message]
    if problems:
        raise ValidationError(problems)
    return instance


class JsonObject(serializers.Serializer):
    """An object of the file: keys left out take the model's default; unknown keys are refused (a
    misspelt key would otherwise be ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        expected = ", ".join(self.fields)
        keys = data if isinstance(data, dict) else {}
        unknown = {key: [f"unknown key (expected one of: {expected})"] for key in keys if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            found = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise ValidationError({**unknown, **found}) from None
        if unknown:
            raise ValidationError(unknown)
        return value


class SettingsSerializer(JsonObject):
    strip_domain = Bool(required=False)
    manual_wins = Bool(required=False)
    debounce_seconds = Int(required=False)
    heartbeat_timeout_minutes = Int(required=False)
    device_window_hours = Int(required=False)
    offer_user_page = Bool(required=False)
    key_rotation_days = Int(required=False)
    trigger_retention_days = Int(required=False)
    restore_fallback = PresetName(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Every setting, those left out at their default (so that older exports stay importable)."""
        fallback = attrs.pop("restore_fallback", None)
        settings = full_clean(ServiceSettings(**attrs))
        names: list[str] = list(self.fields.keys())
        return {name: getattr(settings, name) for name in names} | {"restore_fallback": fallback}


class PresetSerializer(JsonObject):
    name = Text()
    activity = Text(required=False, validators=[ACTIVITY])
    note = Text(required=False)
    color = Text(required=False)
    show_on_user_page = Bool(required=False)

    def validate(self, attrs: dict[str, Any]) -> Preset:
        return full_clean(Preset(**attrs))


class EventRuleSerializer(JsonObject):
    event = Text()
    action = Text(required=False)
    preset = PresetName(required=False, allow_null=True)
    weekdays = serializers.ListField(child=Int(validators=WEEKDAY), validators=[each_day_once], required=False)
    start_time = ClockTime()
    end_time = ClockTime()

    def validate_event(self, event: str) -> str:
        if event in UNRULED_EVENTS:
            raise ValidationError("a heartbeat changes no presence; use heartbeat-lost")
        return event

    def validate(self, attrs: dict[str, Any]) -> tuple[EventRule, str | None]:
        """The rule, and the name of the preset it sets (resolved when the presets are written)."""
        name = attrs.pop("preset", None)
        rule = EventRule(**attrs)
        missing = rule.action == EventRule.Action.PRESET and name is None
        problem = "is required when the action is 'preset'" if missing else None
        return full_clean(rule, skip=("preset",), preset=problem), name


class OverrideRuleSerializer(JsonObject):
    name = Text(required=False)
    activities = serializers.ListField(child=Text(validators=[ACTIVITY]))
    note_match = Text(required=False)
    note_pattern = Text(required=False)
    events = serializers.ListField(child=Text(validators=[EVENT_NAME]), required=False)
    decision = Text(required=False)
    enabled = Bool(required=False)

    def validate(self, attrs: dict[str, Any]) -> OverrideRule:
        rule = OverrideRule(**attrs)
        problem = regex_error(rule.note_pattern) if rule.note_match == OverrideRule.NoteMatch.REGEX else None
        return full_clean(rule, note_pattern=f"not a valid regular expression: {problem}" if problem else None)


class ConfigSerializer(JsonObject):
    format = Text()
    version = Int()
    settings = SettingsSerializer()
    presets = PresetSerializer(many=True)
    event_rules = EventRuleSerializer(many=True)
    override_rules = OverrideRuleSerializer(many=True)

    def validate_format(self, value: str) -> str:
        if value != FORMAT:
            raise ValidationError(f"must be '{FORMAT}'")
        return value

    def validate_version(self, value: int) -> int:
        if value != VERSION:
            raise ValidationError(f"this service reads version {VERSION}, not {value}")
        return value


# ---------------------------------------------------------------------------------------------- export


def export_config() -> dict[str, Any]:
    """The current configuration as a JSON-ready dict; list order is the order that matters."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "settings": ServiceSettings.current(),
        "presets": Preset.objects.order_by("order", "name"),
        "event_rules": EventRule.objects.select_related("preset").order_by("event"),
        "override_rules": OverrideRule.objects.order_by("order", "id"),
    }
    return ConfigSerializer(document).data


def dump_config(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ validation


@dataclass
class Validated:
    """A valid document, as unsaved model instances in file order."""

    settings: dict[str, Any]  # restore_fallback is a preset name (or None), resolved when applied
    presets: list[Preset]
    event_rules: list[tuple[EventRule, str | None]]  # with the preset name it refers to
    override_rules: list[OverrideRule]


def parse_config(text: str, source: str = "input") -> Any:
    """The JSON document; syntax errors name the line and column. Refuses what no configuration
    holds and the database could not store: deep nesting, lone surrogates."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{source}: line {exc.lineno} column {exc.colno}: {exc.msg}"]) from exc
    except RecursionError:
        raise ConfigError([f"{source}: the JSON is nested too deeply to read"]) from None
    problems = plain_json_problems(data)
    if problems:
        raise ConfigError(problems)
    return data


# A configuration is an object of lists of objects of lists: four levels, and some room.
MAX_DEPTH = 8


def _surrogates(text: str) -> str:
    """The lone surrogates in `text`, escaped (`\\ud800`), or "" when there are none."""
    found = [ch for ch in text if "\ud800" <= ch <= "\udfff"]
    return ", ".join(ch.encode("unicode_escape").decode("ascii") for ch in found)


def plain_json_problems(data: Any) -> list[str]:
    """Where `data` is nested deeper than a configuration is, or holds a lone surrogate (JSON can
    spell `\\ud800`, which is no character: the dry run accepted it and the import then crashed).

    Walked without recursion, so that no nesting the parser let through can exhaust the stack.
    """
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        where = path or "the file"
        if depth > MAX_DEPTH:
            problems.append(f"{where}: nested deeper than a configuration is (at most {MAX_DEPTH} levels)")
        elif isinstance(value, dict):
            for key in reversed(list(value)):
                bad = _surrogates(key)
                if bad:
                    problems.append(f"{where}: a key holds a lone surrogate ({bad}), which is no character")
                else:
                    stack.append((value[key], f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((value[i], f"{path}[{i}]", depth + 1) for i in reversed(range(len(value))))
        elif isinstance(value, str) and _surrogates(value):
            bad = _surrogates(value)
            problems.append(f"{where}: holds a lone surrogate ({bad}), which is no character: nothing can store it")
    return problems


def validate_config(data: Any) -> Validated:
    """Check every part of the document; raise ConfigError listing all problems."""
    if not isinstance(data, dict):
        raise ConfigError(["the file must hold one JSON object"])
    presets = data.get("presets")
    names = [p.get("name") if isinstance(p, dict) else None for p in presets] if isinstance(presets, list) else None
    config = ConfigSerializer(data=data, context={"preset_names": names})
    problems = [] if config.is_valid() else error_lines(config.errors)
    # Across items, checked on the file as it stands: so they are listed with the items' own problems.
    problems += repeats(data, "presets", "name", "is already")
    problems += repeats(data, "event_rules", "event", "already has a rule at")
    if problems:
        raise ConfigError(problems)
    valid = config.validated_data
    presets, override_rules = valid["presets"], valid["override_rules"]
    for items in (presets, override_rules):  # the position in the list is the order
        for i, item in enumerate(items):
            item.order = (i + 1) * 10
    return Validated(valid["settings"], presets, valid["event_rules"], override_rules)


def repeats(data: dict[str, Any], section: str, key: str, words: str) -> list[str]:
    """Each item of `section` whose `key` repeats an earlier item's: `presets[3].name: 'Away' is already presets[1]`."""
    items = data.get(section)
    first: dict[str, int] = {}
    found: list[str] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get(key) if isinstance(item, dict) else None
        if isinstance(name, str) and name in first:
            found.append(f"{section}[{i}].{key}: '{name}' {words} {section}[{first[name]}]")
        elif isinstance(name, str):
            first[name] = i
    return found


def error_lines(detail: Any, path: str = "") -> list[str]:
    """DRF's nested errors as lines that name their place: `event_rules[2].preset: unknown preset 'Awy'`."""
    if isinstance(detail, list) and all(isinstance(message, str) for message in detail):
        return [f"{path}: {message}" for message in detail]
    lines: list[str] = []
    for key, value in detail.items() if isinstance(detail, dict) else enumerate(detail):
        if isinstance(key, int):
            lines += error_lines(value, f"{path}[{key}]")
        elif key in (NON_FIELD_ERRORS, api_settings.NON_FIELD_ERRORS_KEY):
            lines += error_lines(value, path)
        else:
            lines += error_lines(value, f"{path}.{key}" if path else key)
    return lines


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
        old_rule = existing_rules.get(r.event)
        if old_rule is None:
            rules["created"].append(r.event)
        else:
            old_preset = old_rule.preset.name if old_rule.preset else None
            changed = _differs(old_rule, r, EVENT_RULE_FIELDS) or old_preset != preset_name
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
    now = SettingsSerializer(current).data
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
