"""Configuration as code: exportconfig / importconfig, and an import that refuses a broken file whole."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from presence.configio import FORMAT, dump_config, export_config
from presence.models import EventRule, OverrideRule, Preset, ServiceSettings


def export(tmp_path: Path) -> str:
    out = tmp_path / "exported.json"
    call_command("exportconfig", output=str(out), stderr=io.StringIO())
    return out.read_text(encoding="utf-8")


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
    return str(path)


def import_file(path: str, *args: str) -> str:
    out = io.StringIO()
    call_command("importconfig", path, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def exported(db) -> dict:
    """The default configuration (from the data migration) as exportconfig writes it, to edit in tests."""
    return json.loads(dump_config(export_config()))


def test_it_exports_the_defaults_in_the_documented_shape(exported: dict) -> None:
    assert list(exported) == ["format", "version", "settings", "presets", "event_rules", "override_rules"]
    assert (exported["format"], exported["version"]) == (FORMAT, 1)
    assert exported["settings"]["manual_wins"] is True
    assert exported["presets"][0] == {
        "name": "Available",
        "activity": "",
        "note": "",
        "color": "#badb8c",
        "show_on_user_page": True,
    }
    lock = next(r for r in exported["event_rules"] if r["event"] == "lock")
    assert lock == {
        "event": "lock",
        "action": "preset",
        "preset": "Away – screen locked",
        "weekdays": [],
        "start_time": None,
        "end_time": None,
    }
    assert exported["override_rules"] == [
        {
            "name": "holiday",
            "activities": ["away"],
            "note_match": "contains",
            "note_pattern": "holiday",
            "events": [],
            "decision": "protect",
            "enabled": True,
        }
    ]


def test_it_exports_to_standard_output(db) -> None:
    out = io.StringIO()
    call_command("exportconfig", stdout=out)
    assert json.loads(out.getvalue())["format"] == FORMAT


def test_it_reads_back_exactly_what_it_wrote(db, tmp_path: Path) -> None:
    EventRule.objects.filter(event="logon").update(weekdays=[0, 1, 2, 3, 4], start_time="07:00", end_time="19:30:15")
    OverrideRule.objects.create(order=5, name="", activities=["dnd"], note_match="regex", note_pattern=r"^meet\b")
    first = export(tmp_path)

    import_file(write(tmp_path, first))

    assert export(tmp_path) == first


def test_it_carries_the_unlock_fallback_by_preset_name(exported: dict, tmp_path: Path) -> None:
    assert exported["settings"]["restore_fallback"] is None
    import_file(write(tmp_path, edit(exported, "settings.restore_fallback", "Lunch")))
    assert ServiceSettings.objects.get().restore_fallback.name == "Lunch"
    assert json.loads(export(tmp_path))["settings"]["restore_fallback"] == "Lunch"


def test_it_replaces_the_whole_configuration(exported: dict, tmp_path: Path) -> None:
    busy_id = Preset.objects.get(name="Busy").pk
    exported["settings"]["debounce_seconds"] = 5
    exported["presets"] = [p for p in exported["presets"] if p["name"] in ("Available", "Busy")]
    exported["presets"][1]["note"] = "In a call"
    exported["presets"].append({"name": "Remote", "activity": "away", "note": "Working remotely"})
    exported["event_rules"] = [
        {
            "event": "logon",
            "action": "preset",
            "preset": "Available",
            "weekdays": [0, 1, 2, 3, 4],
            "start_time": "07:00",
            "end_time": "19:00",
        },
        {"event": "vpn-up", "action": "preset", "preset": "Remote"},
    ]
    exported["override_rules"] = [
        {"name": "calls", "activities": ["busy"], "note_match": "exact", "note_pattern": "in a call"},
        {
            "name": "meetings",
            "activities": ["dnd"],
            "note_match": "any",
            "events": ["shutdown"],
            "decision": "override",
        },
    ]

    output = import_file(write(tmp_path, exported))

    assert "presets: 1 created, 1 updated, 7 deleted, 1 unchanged" in output
    assert "debounce_seconds 0 → 5" in output
    assert list(Preset.objects.values_list("name", "order")) == [("Available", 10), ("Busy", 20), ("Remote", 30)]
    assert Preset.objects.get(name="Busy").pk == busy_id  # updated in place, not replaced
    assert Preset.objects.get(name="Busy").note == "In a call"
    logon = EventRule.objects.get(event="logon")
    assert (logon.weekdays, str(logon.start_time), str(logon.end_time)) == ([0, 1, 2, 3, 4], "07:00:00", "19:00:00")
    assert EventRule.objects.get(event="vpn-up").preset.name == "Remote"
    assert EventRule.objects.count() == 2
    assert list(OverrideRule.objects.values_list("name", "decision", "enabled")) == [
        ("calls", "protect", True),
        ("meetings", "override", True),
    ]
    assert ServiceSettings.current().debounce_seconds == 5


def test_it_changes_nothing_on_a_dry_run(exported: dict, tmp_path: Path) -> None:
    before = export(tmp_path)
    exported["presets"][0]["note"] = "Here"
    exported["settings"]["manual_wins"] = False

    output = import_file(write(tmp_path, exported), "--dry-run")

    assert "presets: 1 updated, 8 unchanged (updated: Available)" in output
    assert "manual_wins True → False" in output
    assert "Dry run: nothing was changed." in output
    assert export(tmp_path) == before


def test_it_says_so_when_a_file_changes_nothing(exported: dict, tmp_path: Path) -> None:
    output = import_file(write(tmp_path, exported))
    assert "override rules: unchanged" in output
    assert "settings: unchanged" in output


def test_it_reads_standard_input(exported: dict, monkeypatch) -> None:
    exported["settings"]["debounce_seconds"] = 3
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(exported)))
    import_file("-")
    assert ServiceSettings.current().debounce_seconds == 3


def test_it_fills_in_defaults_for_keys_left_out(exported: dict, tmp_path: Path) -> None:
    exported["settings"] = {}
    exported["presets"].append({"name": "Gone fishing"})
    import_file(write(tmp_path, exported))
    preset = Preset.objects.get(name="Gone fishing")
    assert (preset.activity, preset.note, preset.color, preset.show_on_user_page) == ("", "", "", False)
    assert ServiceSettings.current().key_rotation_days == 180


def test_every_setting_travels_in_the_file(exported: dict) -> None:
    editable = {f.name for f in ServiceSettings._meta.concrete_fields if f.editable and not f.primary_key}
    assert set(exported["settings"]) == editable


def test_it_keeps_text_as_it_stands(exported: dict, tmp_path: Path) -> None:
    exported["presets"][0]["note"] = "  Back at 3 "
    import_file(write(tmp_path, exported))
    assert Preset.objects.get(name="Available").note == "  Back at 3 "


# --- a broken file changes nothing and says where it is broken -----------------------------------------------


def edit(config: dict, path: str, value: Any) -> dict:
    """Set `presets.0.color`-style path to value (DELETE removes the key)."""
    config = copy.deepcopy(config)
    *parents, last = path.split(".")
    node: Any = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return config


DELETE = object()

BROKEN = [
    pytest.param(
        "settings.restore_fallback",
        "Nowhere",
        "settings.restore_fallback: unknown preset 'Nowhere'",
        id="a_fallback_that_is_no_preset",
    ),
    pytest.param("presets.0.color", "yellow", "presets[0].color: Use a colour like #ffd063.", id="a_bad_colour"),
    pytest.param("event_rules.2.preset", "Awy", "event_rules[2].preset: unknown preset 'Awy'", id="an_unknown_preset"),
    pytest.param(
        "event_rules.0.action",
        "wave",
        "event_rules[0].action: Value 'wave' is not a valid choice.",
        id="an_unknown_action",
    ),
    pytest.param(
        "event_rules.0.preset",
        None,
        "event_rules[0].preset: is required when the action is 'preset'",
        id="a_preset_rule_without_preset",
    ),
    pytest.param(
        "event_rules.0.weekdays", [0, 7], "event_rules[0].weekdays[1]: 7 is not a weekday", id="a_weekday_out_of_range"
    ),
    pytest.param("event_rules.0.weekdays", [1, 1], "event_rules[0].weekdays: names a day twice", id="a_weekday_twice"),
    pytest.param(
        "event_rules.0.weekdays",
        [True],
        "event_rules[0].weekdays[0]: A valid integer is required.",
        id="a_weekday_that_is_a_boolean",
    ),
    pytest.param(
        "event_rules.0.start_time",
        "7 am",
        "event_rules[0].start_time: Time has wrong format. Use one of these formats instead: hh:mm, hh:mm:ss.",
        id="a_time_that_is_no_time",
    ),
    pytest.param(
        "event_rules.0.end_time",
        "25:00",
        "event_rules[0].end_time: Time has wrong format. Use one of these formats instead: hh:mm, hh:mm:ss.",
        id="an_hour_that_does_not_exist",
    ),
    pytest.param(
        "event_rules.0.event", "Log On", "event_rules[0].event: Use lower-case letters", id="a_bad_event_name"
    ),
    pytest.param(
        "event_rules.0.event",
        "heartbeat",
        "event_rules[0].event: a heartbeat changes no presence",
        id="a_rule_for_heartbeat",
    ),
    pytest.param(
        "event_rules.1.event",
        "heartbeat-lost",
        "event_rules[1].event: 'heartbeat-lost' already has a rule",
        id="two_rules_for_one_event",
    ),
    pytest.param(
        "presets.1.name",
        "Available",
        "presets[1].name: 'Available' is already presets[0]",
        id="two_presets_with_one_name",
    ),
    pytest.param(
        "presets.0.name",
        "x" * 101,
        "presets[0].name: Ensure this value has at most 100 characters",
        id="a_name_too_long",
    ),
    pytest.param(
        "presets.0.activity", "Away", "presets[0].activity: 'Away' is not an activity", id="an_activity_in_capitals"
    ),
    pytest.param(
        "presets.0.show_on_user_page",
        "yes",
        "presets[0].show_on_user_page: Must be a valid boolean.",
        id="a_boolean_that_is_a_string",
    ),
    pytest.param(  # the dry run said yes, and PostgreSQL then refused the write (a DataError)
        "presets.0.note", "On holiday\x00", "presets[0].note: Null characters are not allowed.", id="a_nul_character"
    ),
    pytest.param("presets.0.colour", "#ffd063", "presets[0].colour: unknown key", id="an_unknown_preset_key"),
    pytest.param("presets.0.name", DELETE, "presets[0].name: This field is required.", id="a_preset_without_name"),
    pytest.param(
        "presets.0",
        "Available",
        "presets[0]: Invalid data. Expected a dictionary, but got str.",
        id="a_preset_that_is_no_object",
    ),
    pytest.param(
        "override_rules.0.activities",
        "away",
        'override_rules[0].activities: Expected a list of items but got type "str".',
        id="activities_that_are_no_list",
    ),
    pytest.param(
        "override_rules.0.activities",
        ["away", 3],
        "override_rules[0].activities[1]: Not a valid string.",
        id="an_activity_that_is_no_string",
    ),
    pytest.param(
        "override_rules.0.activities",
        [],
        "override_rules[0].activities: This field cannot be blank.",
        id="an_override_rule_without_activities",
    ),
    pytest.param("override_rules.0.note_match", "regex", None, id="a_regex_that_does_not_compile"),
    pytest.param("override_rules.0.note_pattern", r"(holiday)\s+\1", "", id="a_regex_with_a_back_reference"),
    pytest.param(
        "override_rules.0.events",
        ["shut down"],
        "override_rules[0].events[0]: 'shut down': Use lower-case",
        id="an_override_event_with_a_space",
    ),
    pytest.param(
        "override_rules.0.decision",
        "ignore",
        "override_rules[0].decision: Value 'ignore' is not a valid",
        id="an_unknown_decision",
    ),
    pytest.param(
        "settings.debounce_seconds",
        601,
        "settings.debounce_seconds: Ensure this value is less than or equal",
        id="a_setting_out_of_range",
    ),
    pytest.param(
        "settings.heartbeat_timeout_minutes",
        1_100_000_000,
        "settings.heartbeat_timeout_minutes: Ensure this value is less than or equal to 1440",
        id="a_heartbeat_timeout_beyond_a_day",
    ),
    pytest.param(
        "settings.debounce_seconds",
        "5",
        "settings.debounce_seconds: A valid integer is required.",
        id="a_setting_of_the_wrong_type",
    ),
    pytest.param("settings.colour_scheme", "dark", "settings.colour_scheme: unknown key", id="an_unknown_setting"),
    pytest.param("comment", "hello", "comment: unknown key", id="an_unknown_top_level_key"),
    pytest.param("event_rules", DELETE, "event_rules: This field is required.", id="a_missing_section"),
    pytest.param(
        "presets", {}, 'presets: Expected a list of items but got type "dict".', id="a_section_that_is_no_list"
    ),
    pytest.param("format", "something-else", "format: must be 'presence-heartbeat-config'", id="another_format"),
    pytest.param("version", 2, "version: this service reads version 1, not 2", id="a_newer_version"),
]


@pytest.mark.parametrize(("path", "value", "message"), BROKEN)
def test_it_refuses_a_file_with(exported: dict, tmp_path: Path, path: str, value: Any, message: str | None) -> None:
    if message is None:  # the regex case needs two keys
        exported["override_rules"][0]["note_pattern"] = "holiday ("
        message = "override_rules[0].note_pattern: not a valid regular expression: missing ): holiday ("
    elif message == "":  # so does this one
        exported["override_rules"][0]["note_match"] = "regex"
        message = "override_rules[0].note_pattern: not a valid regular expression: invalid escape sequence: \\1"
    before = export(tmp_path)

    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, edit(exported, path, value)))

    assert message in str(raised.value)
    assert "nothing was changed" in str(raised.value)
    assert export(tmp_path) == before


def test_it_names_the_line_and_column_of_a_json_syntax_error(exported: dict, tmp_path: Path) -> None:
    text = dump_config(exported).replace('"Busy",', '"Busy"', 1)
    line = text.splitlines().index(next(x for x in text.splitlines() if '"Busy"' in x)) + 2
    path = write(tmp_path, text)

    with pytest.raises(CommandError) as raised:
        import_file(path)

    assert f"{path}: line {line} column 7: Expecting ',' delimiter" in str(raised.value)


def test_it_lists_every_problem_at_once(exported: dict, tmp_path: Path) -> None:
    exported["presets"][0]["color"] = "red"
    exported["event_rules"][2]["preset"] = "Awy"
    exported["override_rules"][0]["decision"] = "maybe"

    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, exported))

    lines = str(raised.value).splitlines()
    assert len([x for x in lines if x.startswith("  ")]) == 3


def test_it_lists_a_repeated_name_with_the_other_problems(exported: dict, tmp_path: Path) -> None:
    exported["presets"][0]["color"] = "red"
    exported["presets"][2]["name"] = exported["presets"][1]["name"]
    exported["event_rules"][1]["event"] = exported["event_rules"][0]["event"]

    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, exported))

    problems = str(raised.value).split("\n", 1)[1]
    assert "presets[0].color: Use a colour like #ffd063." in problems
    assert f"presets[2].name: '{exported['presets'][1]['name']}' is already presets[1]" in problems
    assert "event_rules[1].event:" in problems and "already has a rule at event_rules[0]" in problems


def test_a_rule_naming_a_preset_with_a_problem_of_its_own_is_not_blamed_for_it(exported: dict, tmp_path: Path) -> None:
    """The preset is in the file; only its own problem is listed (not 'unknown preset' at every rule naming it)."""
    named = exported["event_rules"][0]["preset"]
    preset = next(p for p in exported["presets"] if p["name"] == named)
    preset["colour"] = "#ffd063"

    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, exported))

    assert str(raised.value).splitlines()[1:] == [
        f"  presets[{exported['presets'].index(preset)}].colour: unknown key "
        "(expected one of: name, activity, note, color, show_on_user_page)"
    ]


def test_it_refuses_a_file_that_is_not_an_object(db, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="the file must hold one JSON object"):
        import_file(write(tmp_path, "[]"))


def test_it_refuses_a_file_it_cannot_read(db, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.json"):
        import_file(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("depth", [40, 5000], ids=["deeper-than-any-configuration", "deeper-than-python-parses"])
def test_it_refuses_json_nested_deeper_than_a_configuration_is(exported: dict, tmp_path: Path, depth: int) -> None:
    before = export(tmp_path)
    text = dump_config(exported).replace('"note": ""', '"note": ' + "[" * depth + "]" * depth, 1)
    for args in ((), ("--dry-run",)):
        with pytest.raises(CommandError) as raised:
            import_file(write(tmp_path, text), *args)
        assert "nested" in str(raised.value).split("\n", 1)[1] and "nothing was changed" in str(raised.value)
    assert export(tmp_path) == before


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("presets.0.note", "presets[0].note"),
        ("override_rules.0.note_pattern", "override_rules[0].note_pattern"),
        ("settings.colour_scheme", "settings"),  # as a key, not a value
    ],
)
def test_a_lone_surrogate_is_refused_by_the_dry_run_and_the_import_alike(
    exported: dict, tmp_path: Path, path: str, where: str
) -> None:
    """JSON may spell `\\ud800`; the dry run said yes and the real import then crashed writing it."""
    before = export(tmp_path)
    if path.startswith("settings."):
        exported["settings"]["\ud800"] = 1
    else:
        exported = edit(exported, path, "On holiday \ud800")
    text = json.dumps(exported)  # ensure_ascii: the file holds the escape \ud800
    assert "\\ud800" in text
    for args in (("--dry-run",), ()):
        with pytest.raises(CommandError) as raised:
            import_file(write(tmp_path, text), *args)
        problems = str(raised.value).split("\n", 1)[1]  # the first line names the file
        assert where in problems and "lone surrogate" in problems
        assert "\ud800" not in problems  # a terminal could not even print it
    assert export(tmp_path) == before


def test_it_reports_in_english_whatever_language_is_active(exported: dict, tmp_path: Path) -> None:
    """importconfig's output is for the command line and scripts: DRF's and Django's messages stay English."""
    exported["settings"]["debounce_seconds"] = "5"
    exported["event_rules"][0]["action"] = "wave"

    with translation.override("de"):
        with pytest.raises(CommandError) as raised:
            import_file(write(tmp_path, exported))
        assert translation.get_language() == "de"  # the caller's language is left as it was

    assert "settings.debounce_seconds: A valid integer is required." in str(raised.value)
    assert "event_rules[0].action: Value 'wave' is not a valid choice." in str(raised.value)


def test_a_broken_regex_is_reported_once_in_the_files_terms(exported: dict, tmp_path: Path) -> None:
    exported["override_rules"][0]["note_match"] = "regex"
    exported["override_rules"][0]["note_pattern"] = "holiday ("

    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, exported))

    assert str(raised.value).count("override_rules[0].note_pattern") == 1
    assert "Not a regular expression the rules can use" not in str(raised.value)
