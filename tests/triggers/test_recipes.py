"""Trigger recipes: what each rendered file is (structure, not text), and the admin integration page."""

from __future__ import annotations

import configparser
import io
import os
import plistlib
import re
import shutil
import signal
import stat
import subprocess
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import tree_sitter_powershell
from django.urls import reverse
from tree_sitter import Language, Parser

from tests.services import in_ci
from triggers import recipes
from triggers.models import ApiKey, Trigger

TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
URL = "https://presence.corp.example/api/v1/triggers"
SHELL_SCRIPTS = [
    ("linux", "presence-heartbeat.sh"),
    ("linux", "install.sh"),
    ("linux", "presence-heartbeat-computer.sh"),
    ("linux", "install-computer.sh"),
    ("macos", "presence-heartbeat.sh"),
    ("macos", "install.sh"),
]


@pytest.fixture(autouse=True)
def _public_url(settings):
    """Recipes are rendered with PUBLIC_URL: a realistic https name unless a test says otherwise."""
    settings.PUBLIC_URL = "https://presence.corp.example"


@pytest.fixture
def clear_key(db) -> str:
    return ApiKey.create("recipe tests")[1]


def task(name: str, minutes: int = recipes.DEFAULT_HEARTBEAT_MINUTES) -> ET.Element:
    data = recipes.render_file("windows", f"tasks/presence-{name}.xml", heartbeat_minutes=minutes)
    assert data.startswith(b"\xff\xfe"), "UTF-16 LE with a byte-order mark, as Task Scheduler exports"
    return parse_xml(data)


def parse_xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 — our own rendered file, not untrusted input


# --- Windows Task Scheduler XML -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "state_change", "event"),
    [
        ("lock", "SessionLock", "lock"),
        ("unlock", "SessionUnlock", "unlock"),
        ("remote-connect", "RemoteConnect", "unlock"),
        ("remote-disconnect", "RemoteDisconnect", "lock"),
    ],
    ids=["lock", "unlock", "rds-connect", "rds-disconnect"],
)
def test_each_session_task_has_one_session_state_trigger_and_sends_its_event(name, state_change, event):
    root = task(name)
    triggers = list(root.find("t:Triggers", TASK_NS))
    assert [t.tag for t in triggers] == [f"{{{TASK_NS['t']}}}SessionStateChangeTrigger"]
    assert triggers[0].findtext("t:StateChange", namespaces=TASK_NS) == state_change
    assert_runs_sender_in_users_session(root, event)


def test_the_logon_task_has_one_logon_trigger_without_delay():
    root = task("logon")
    triggers = list(root.find("t:Triggers", TASK_NS))
    assert [t.tag.split("}")[1] for t in triggers] == ["LogonTrigger"]
    assert triggers[0].find("t:Delay", TASK_NS) is None
    assert_runs_sender_in_users_session(root, "logon")


@pytest.mark.parametrize("minutes", [1, 5, 17])
def test_the_heartbeat_task_repeats_every_chosen_number_of_minutes(minutes):
    root = task("heartbeat", minutes)
    triggers = list(root.find("t:Triggers", TASK_NS))
    assert [t.tag.split("}")[1] for t in triggers] == ["TimeTrigger"]
    repetition = triggers[0].find("t:Repetition", TASK_NS)
    assert repetition.findtext("t:Interval", namespaces=TASK_NS) == f"PT{minutes}M"
    assert repetition.find("t:Duration", TASK_NS) is None, "repeats for as long as the user is logged on"
    assert root.findtext("t:Settings/t:MultipleInstancesPolicy", namespaces=TASK_NS) == "IgnoreNew"
    assert_runs_sender_in_users_session(root, "heartbeat")


def assert_runs_sender_in_users_session(root: ET.Element, event: str) -> None:
    principals = list(root.find("t:Principals", TASK_NS))
    assert len(principals) == 1
    principal = principals[0]
    assert principal.find("t:UserId", TASK_NS) is None and principal.find("t:GroupId", TASK_NS) is None
    assert principal.findtext("t:LogonType", namespaces=TASK_NS) == "InteractiveToken"
    assert principal.findtext("t:RunLevel", namespaces=TASK_NS) == "LeastPrivilege"
    actions = list(root.find("t:Actions", TASK_NS))
    assert [a.tag.split("}")[1] for a in actions] == ["Exec"]
    # A console host without a window: nothing flashes on the user's screen.
    assert actions[0].findtext("t:Command", namespaces=TASK_NS) == "conhost.exe"
    arguments = actions[0].findtext("t:Arguments", namespaces=TASK_NS).split()
    assert arguments[:2] == ["--headless", "powershell.exe"] and "-NonInteractive" in arguments
    assert arguments[arguments.index("-Event") :] == ["-Event", *event.split()]
    assert '"%APPDATA%\\PresenceHeartbeat\\Send-PresenceTrigger.ps1"' in arguments
    restart = root.find("t:Settings/t:RestartOnFailure", TASK_NS)
    assert restart.findtext("t:Count", namespaces=TASK_NS) == "3"
    assert root.findtext("t:Settings/t:RunOnlyIfNetworkAvailable", namespaces=TASK_NS) == "false"


@pytest.mark.parametrize(
    ("name", "provider", "event_id"),
    [("sleep", "Microsoft-Windows-Kernel-Power", "42"), ("resume", "Microsoft-Windows-Power-Troubleshooter", "1")],
)
def test_the_sleep_and_resume_tasks_subscribe_to_their_system_log_event_and_send_its_time(name, provider, event_id):
    root = task(name)
    triggers = list(root.find("t:Triggers", TASK_NS))
    assert [t.tag.split("}")[1] for t in triggers] == ["EventTrigger"]
    query = parse_xml(triggers[0].findtext("t:Subscription", namespaces=TASK_NS).encode())
    (select,) = query.iter("Select")
    assert query.tag == "QueryList" and select.get("Path") == "System"
    assert select.text == f"*[System[Provider[@Name='{provider}'] and EventID={event_id}]]"
    values = {v.get("name"): v.text for v in triggers[0].find("t:ValueQueries", TASK_NS)}
    assert values == {"At": "Event/System/TimeCreated/@SystemTime"}
    assert_runs_sender_in_users_session(root, f'{name} -At "$(At)"')


def test_the_windows_recipe_registers_every_task_and_the_gpo_logoff_script_uses_the_sender():
    files = recipes.render("windows")
    tasks = sorted(name for name in files if name.startswith("tasks/"))
    assert tasks == sorted(f"tasks/presence-{name}.xml" for name in recipes.WINDOWS_TASKS)
    logoff = files["logoff.cmd"].decode()
    assert "\r\n" in logoff and "Send-PresenceTrigger.ps1" in logoff and "-Event logoff" in logoff
    sender = files["Send-PresenceTrigger.ps1"].decode()
    assert f"$Url = '{URL}'" in sender
    installer = files["Install-PresenceHeartbeat.ps1"].decode()
    assert "icacls.exe $keyFile /inheritance:r /grant:r" in installer and "schtasks.exe /create /xml" in installer


POWERSHELL_SCRIPTS = ["Install-PresenceHeartbeat.ps1", "Send-PresenceTrigger.ps1", "computer/Send-ComputerEvent.ps1"]


def powershell_syntax_errors(script: bytes) -> list[str]:
    """Where a PowerShell parser (tree-sitter's grammar; PowerShell itself is not packaged for Debian)
    finds a syntax error or a missing token: "line:column text"."""
    tree = Parser(Language(tree_sitter_powershell.language())).parse(script)
    found, nodes = [], [tree.root_node]
    while nodes:
        node = nodes.pop()
        if node.type == "ERROR" or node.is_missing:
            text = script[node.start_byte : node.end_byte][:40].decode("utf-8", "replace")
            found.append(f"{node.start_point.row + 1}:{node.start_point.column + 1} {text!r}")
        nodes.extend(node.children)
    return found


def test_every_powershell_script_is_in_the_windows_recipe():
    assert sorted(name for name in recipes.render("windows") if name.endswith(".ps1")) == sorted(POWERSHELL_SCRIPTS)


@pytest.mark.parametrize("name", POWERSHELL_SCRIPTS)
def test_each_powershell_script_parses_without_a_syntax_error(name, clear_key):
    script = recipes.render_file("windows", name, key=clear_key)
    assert script.startswith(b"<#") and b"\r\n" in script
    assert powershell_syntax_errors(script) == []


def test_the_powershell_check_finds_a_broken_script():
    script = recipes.render_file("windows", "computer/Send-ComputerEvent.ps1")
    broken = script.replace(b"if ($MaxSeconds -le 0) {", b"if ($MaxSeconds -le 0 {", 1)
    assert broken != script and powershell_syntax_errors(broken) != []


def test_the_computer_script_sends_only_the_event_and_this_computers_name():
    script = recipes.render_file("windows", "computer/Send-ComputerEvent.ps1").decode()
    body = script[script.index("$body = @{") : script.index("}", script.index("$body = @{"))]
    assert "device = $env:COMPUTERNAME" in body and "event  = $Event" in body and "user" not in body
    assert "[ValidateSet('shutdown', 'startup')]" in script
    assert "-TimeoutSec 5" in script and "Join-Path $PSScriptRoot 'key.txt'" in script
    assert f"$Url = '{URL}'" in script


def test_the_installers_show_console_switch_turns_every_task_into_plain_powershell():
    """-ShowConsole rewrites each task's action with the installer's own pattern (a .NET regex this simple
    reads the same in Python): it must take off exactly the headless console host, in every task."""
    installer = recipes.render_file("windows", "Install-PresenceHeartbeat.ps1").decode()
    pattern = re.search(r"\$exec\.Arguments -replace '([^']+)', ''", installer).group(1)
    for name in recipes.WINDOWS_TASKS:
        arguments = task(name).findtext(".//t:Exec/t:Arguments", namespaces=TASK_NS)
        plain = re.sub(pattern, "", arguments)
        assert plain == arguments.removeprefix("--headless powershell.exe ") and plain.startswith("-NoProfile ")


INJECTING_URLS = [
    pytest.param("https://presence.example/#>;Start-Process calc;<#", id="powershell-help-comment"),
    pytest.param("https://presence.example/x\ntouch /tmp/pwned", id="newline-in-shell-comment"),
    pytest.param("https://presence.example/x\nExecStartPre=/bin/sh -c id", id="newline-in-systemd-unit"),
    pytest.param('https://presence.example/"&calc&"', id="cmd-one-liner"),
    pytest.param("https://it's.example", id="quote"),
]


@pytest.mark.parametrize("url", INJECTING_URLS)
def test_nothing_is_rendered_with_a_public_url_that_could_inject_a_command(settings, url):
    """Settings refuse such a PUBLIC_URL at start-up; the recipes check again before rendering."""
    settings.PUBLIC_URL = url
    for os_name in recipes.RECIPES:
        with pytest.raises(recipes.RecipeError, match="PUBLIC_URL"):
            recipes.render(os_name)
    with pytest.raises(recipes.RecipeError, match="PUBLIC_URL"):
        recipes.one_liners()


def test_a_url_with_a_port_and_a_path_is_quoted_for_each_language(settings, tmp_path):
    settings.PUBLIC_URL = "https://[fd00::5]:8443/presence-hb"
    url = "https://[fd00::5]:8443/presence-hb/api/v1/triggers"
    sender = recipes.render_file("windows", "Send-PresenceTrigger.ps1").decode()
    assert f"$Url = '{url}'" in sender
    linux = recipes.render_file("linux", "presence-heartbeat.sh").decode()
    assert f"DEFAULT_URL='{url}'\n" in linux  # quoted: [ and ] are glob characters
    unit = configparser.ConfigParser(interpolation=None)
    unit.read_string(recipes.render_file("linux", "presence-heartbeat.service").decode())
    assert unit["Unit"]["Description"].endswith(f"to {url}")
    lines = {line.id: line.text for line in recipes.one_liners()}
    assert lines["cmd"].endswith(f'"{url}"') and lines["powershell"].startswith(
        f"Invoke-RestMethod -Method Post -Uri '{url}'"
    )


# --- macOS and Linux ------------------------------------------------------------------------


@pytest.mark.parametrize("public_url", ["https://presence.corp.example", "http://[fd00::5]:8080/presence-hb"])
@pytest.mark.parametrize(("os_name", "name"), SHELL_SCRIPTS, ids=["/".join(s) for s in SHELL_SCRIPTS])
def test_each_shell_script_passes_bash_n_and_shellcheck(os_name, name, tmp_path, settings, public_url):
    settings.PUBLIC_URL = public_url
    path = tmp_path / name
    path.write_bytes(recipes.render_file(os_name, name, key=None))
    subprocess.run(["bash", "-n", str(path)], check=True)
    if shutil.which("shellcheck") is None:
        message = "shellcheck is not installed (Debian: apt-get install shellcheck)"
        if in_ci():
            pytest.fail(message)
        print("\n" + "!" * 78 + f"\n!! SKIPPING shellcheck: {message}\n" + "!" * 78)
        pytest.skip(message)
    result = subprocess.run(["shellcheck", "--shell=bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("os_name", "name"), SHELL_SCRIPTS, ids=["/".join(s) for s in SHELL_SCRIPTS])
def test_no_shell_script_can_print_the_key(os_name, name):
    lines = [line.strip() for line in recipes.render_file(os_name, name).decode().splitlines()]
    assert not [line for line in lines if line.startswith(("set -x", "set -o xtrace", "set -v"))]
    curl = [line for line in lines if "curl " in line and not line.startswith("#")]
    assert all(not {"-v", "--verbose", "--trace", "--trace-ascii"} & set(line.split()) for line in curl)
    # The key goes to curl on standard input only, never into an argument, a file name or the log.
    uses = [line for line in lines if "$API_KEY" in line and not line.startswith("#")]
    for line in uses:
        assert line.startswith(
            (
                'API_KEY="${API_KEY//',
                'case "$API_KEY"',
                "answer=$(printf 'Authorization: Bearer %s\\n' \"$API_KEY\" | curl -sS --max-time ",
            )
        )


def test_the_macos_agent_runs_the_script_in_the_users_gui_session():
    agent = plistlib.loads(recipes.render_file("macos", "com.presence-heartbeat.agent.plist", heartbeat_minutes=3))
    assert agent["Label"] == "com.presence-heartbeat.agent"
    assert agent["ProgramArguments"][:2] == ["/bin/bash", "-c"]
    assert '/PresenceHeartbeat/presence-heartbeat.sh" run' in agent["ProgramArguments"][2]
    assert agent["RunAtLoad"] is True and agent["LimitLoadToSessionType"] == "Aqua"
    assert agent["EnvironmentVariables"] == {"PH_HEARTBEAT_SECONDS": "180"}
    watcher = plistlib.loads(recipes.render_file("macos", "com.presence-heartbeat.sleepwatcher.plist"))
    command = watcher["ProgramArguments"][2]
    assert "sleepwatcher" in command and " -s " in command and 'presence-heartbeat.sh\\" sleep' in command
    assert " -w " in command and 'presence-heartbeat.sh\\" wake' in command
    assert " -d" not in command, "launchd starts it: no daemon mode"


def test_the_linux_unit_follows_the_graphical_session_and_lets_the_script_report_logoff():
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str
    unit.read_string(recipes.render_file("linux", "presence-heartbeat.service").decode())
    assert unit["Service"]["ExecStart"] == "%h/.local/bin/presence-heartbeat"
    assert unit["Service"]["KillMode"] == "mixed"
    assert unit["Service"]["RestartPreventExitStatus"] == "78"
    assert unit["Unit"]["PartOf"] == unit["Install"]["WantedBy"] == "graphical-session.target"


def test_the_linux_computer_unit_reports_startup_once_online_and_shutdown_before_the_network_goes():
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read_string(recipes.render_file("linux", "presence-heartbeat-computer.service").decode())
    service = unit["Service"]
    assert (service["Type"], service["RemainAfterExit"]) == ("oneshot", "yes")
    # "-": an unsent startup report must not fail the unit, or its stop (the shutdown report) never runs.
    assert service["ExecStart"] == "-/usr/local/sbin/presence-heartbeat-computer startup"
    assert service["ExecStop"] == "-/usr/local/sbin/presence-heartbeat-computer shutdown"
    assert "network-online.target" in unit["Unit"]["After"].split()
    assert unit["Unit"]["Wants"] == "network-online.target"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    installer = recipes.render_file("linux", "install-computer.sh").decode()
    assert 'install -m 600 "$here/key" /etc/presence-heartbeat/key' in installer


def test_the_linux_script_has_the_chosen_heartbeat_and_the_url_quoted_for_the_shell(settings):
    text = recipes.render_file("linux", "presence-heartbeat.sh", heartbeat_minutes=7).decode()
    assert "DEFAULT_URL=https://presence.corp.example/api/v1/triggers\n" in text
    assert 'PH_HEARTBEAT_SECONDS="${PH_HEARTBEAT_SECONDS:-420}"' in text


# --- keys, bundles, one-liners, URL warnings ---------------------------------------------------


@pytest.mark.parametrize("os_name", list(recipes.RECIPES))
def test_the_key_is_in_the_key_file_only(os_name, clear_key):
    files = recipes.render(os_name, key=clear_key)
    key_file = recipes.RECIPES[os_name].key_file
    assert files[key_file].decode().strip() == clear_key
    assert [name for name, data in files.items() if clear_key.encode() in data] == [key_file]


@pytest.mark.parametrize("os_name", list(recipes.RECIPES))
def test_without_a_key_the_key_file_holds_the_marked_placeholder(os_name):
    files = recipes.render(os_name)
    assert files[recipes.RECIPES[os_name].key_file].decode().strip() == recipes.KEY_PLACEHOLDER


def test_it_refuses_to_fill_in_something_that_is_not_a_key():
    with pytest.raises(recipes.RecipeError, match="not an API key"):
        recipes.render("linux", key="phk_x'; rm -rf ~")


def test_the_zip_keeps_the_key_file_private_and_the_scripts_executable(clear_key):
    archive = zipfile.ZipFile(io.BytesIO(recipes.zip_bundle("linux", clear_key, 5)))
    modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
    assert modes["presence-heartbeat-linux/key"] == 0o600
    assert modes["presence-heartbeat-linux/presence-heartbeat.sh"] == 0o755
    assert modes["presence-heartbeat-linux/install.sh"] == 0o755
    assert archive.read("presence-heartbeat-linux/key").decode().strip() == clear_key


def test_the_one_liners_fill_in_url_key_and_each_shells_user_variable(clear_key):
    lines = {line.id: line.text for line in recipes.one_liners(clear_key)}
    assert set(lines) == {"cmd", "gpo", "computer", "powershell", "curl"}
    assert all(URL in text and clear_key in text for text in lines.values())
    assert lines["cmd"].startswith("curl.exe ") and "user=%USERNAME%" in lines["cmd"]
    assert lines["gpo"].startswith("curl.exe ") and "event=logoff" in lines["gpo"]
    assert "event=shutdown" in lines["computer"] and "user=" not in lines["computer"]
    assert "device=%COMPUTERNAME%" in lines["computer"]
    assert lines["powershell"].startswith("Invoke-RestMethod ") and "user = $env:USERNAME" in lines["powershell"]
    assert lines["curl"].startswith("curl ") and '"user=$USER"' in lines["curl"]


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://presence.corp.example", []),
        ("http://presence.corp.example", ["plain http"]),
        ("https://10.0.0.5", ["IP address"]),
        ("http://[fd00::5]:8000", ["plain http", "IP address"]),
    ],
    ids=["https-name", "http", "ipv4", "http-ipv6"],
)
def test_it_warns_about_plain_http_and_ip_addresses(public_url, expected):
    warnings = recipes.url_warnings(public_url + "/api/v1/triggers")
    assert len(warnings) == len(expected)
    assert all(word in warning for word, warning in zip(expected, warnings, strict=True))


# --- the admin integration page -------------------------------------------------------------


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("helpdesk", password="pw", is_staff=True)
    client.force_login(user)
    return user


def test_the_page_is_for_staff_only(client, django_user_model):
    url = reverse("admin-integration")
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user("bob", password="pw"))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_page_shows_url_keys_lines_and_downloads(admin_client, settings, api_key):
    settings.PUBLIC_URL = "http://10.1.2.3:8000"
    response = admin_client.get(reverse("admin-integration"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.context["trigger_url"] == "http://10.1.2.3:8000/api/v1/triggers"
    assert len(response.context["url_warnings"]) == 2
    assert [(key.name, state) for key, state in response.context["api_keys"]] == [("test scripts", "active")]
    assert response.context["clear_key"] is None
    assert {line.id for line in response.context["one_liners"]} == {"cmd", "gpo", "computer", "powershell", "curl"}
    assert [recipe.os for recipe in response.context["recipes"]] == ["windows", "macos", "linux"]
    page = response.content.decode()
    assert 'id="computer-level"' in page and "may name only the <code>device</code>" in page


def test_a_new_key_for_a_recipe_is_shown_once_and_never_kept(admin_client):
    response = admin_client.post(reverse("admin-integration"), {"os": "linux"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    clear = response.context["clear_key"]
    row = ApiKey.objects.get()
    assert row.name.startswith("recipe linux ") and row.state == "active"
    assert row.refusal(clear, row.created_at) is None
    assert clear in response.content.decode()
    assert all(clear in line.text for line in response.context["one_liners"])
    session = admin_client.session
    assert all(clear not in str(value) for value in dict(session.items()).values())
    again = admin_client.get(reverse("admin-integration"))
    assert clear not in again.content.decode() and again.context["clear_key"] is None


def test_two_recipe_keys_on_one_day_get_distinct_names(admin_client):
    admin_client.post(reverse("admin-integration"), {"os": "macos"})
    admin_client.post(reverse("admin-integration"), {"os": "macos"})
    names = sorted(ApiKey.objects.values_list("name", flat=True))
    assert len(names) == 2 and names[1] == names[0] + " (2)"


def test_staff_without_the_api_key_view_permission_cannot_see_the_page_or_download(client, staff, api_key):
    """The page lists every key's name, prefix, state and use count: the same right as the key admin."""
    page = client.get(reverse("admin-integration"))
    download = client.get(reverse("admin-integration-download", args=["linux"]))
    key_admin = client.get(reverse("admin:triggers_apikey_changelist"))
    assert key_admin.status_code == 403
    assert page.status_code == 403 and api_key[0].prefix not in page.content.decode()
    assert download.status_code == 403


def test_staff_with_the_api_key_view_permission_see_the_page(client, staff, api_key):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    page = client.get(reverse("admin-integration"))
    assert page.status_code == 200 and api_key[0].prefix in page.content.decode()
    assert page.context["can_add_key"] is False
    assert client.get(reverse("admin-integration-download", args=["linux"])).status_code == 200


def test_staff_without_the_add_key_permission_cannot_create_keys(client, staff):
    response = client.post(reverse("admin-integration"), {"os": "linux"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_a_download_with_a_key_contains_that_key_and_the_url(admin_client, clear_key):
    response = admin_client.post(
        reverse("admin-integration-download", args=["windows"]), {"key": clear_key, "heartbeat_minutes": "10"}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'filename="presence-heartbeat-windows.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.read("presence-heartbeat-windows/key.txt").decode().strip() == clear_key
    assert URL in archive.read("presence-heartbeat-windows/Send-PresenceTrigger.ps1").decode()
    heartbeat = parse_xml(archive.read("presence-heartbeat-windows/tasks/presence-heartbeat.xml"))
    assert heartbeat.findtext(".//t:Repetition/t:Interval", namespaces=TASK_NS) == "PT10M"


def test_a_download_without_a_key_holds_the_placeholder(admin_client):
    response = admin_client.get(reverse("admin-integration-download", args=["macos"]))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.read("presence-heartbeat-macos/key").decode().strip() == recipes.KEY_PLACEHOLDER


@pytest.mark.parametrize(
    ("os_name", "data", "status"),
    [
        ("linux", {"key": "not-a-key", "heartbeat_minutes": "5"}, 400),
        ("linux", {"heartbeat_minutes": "0"}, 400),
        ("beos", {"heartbeat_minutes": "5"}, 404),
    ],
    ids=["bad-key", "zero-minutes", "unknown-os"],
)
def test_a_bad_download_request_is_refused(admin_client, os_name, data, status):
    response = admin_client.post(reverse("admin-integration-download", args=[os_name]), data)
    assert response.status_code == status


# --- the macOS script, run against the live server with a stand-in ioreg --------------------

FAKE_IOREG = """#!/bin/bash
locked=$(cat "$FAKE_IOREG_STATE")
printf '+-o Root  <class IORegistryEntry, id 0x100000100, retain 31>\\n'
printf '    "IOConsoleUsers" = ({"kCGSSessionUserNameKey"="someone","CGSSessionScreenIsLocked"=Yes},'
printf '{"kCGSSessionOnConsoleKey"=Yes,"kCGSSessionUserNameKey"="alice","CGSSessionScreenIsLocked"=%s})\\n' "$locked"
"""


@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_the_macos_script_reports_lock_changes_of_its_own_user(live_server, settings, alice, tmp_path: Path):
    settings.PUBLIC_URL = live_server.url
    _, clear = ApiKey.create("macs")
    files = recipes.render("macos", key=clear)
    (tmp_path / "presence-heartbeat.sh").write_bytes(files["presence-heartbeat.sh"])
    (tmp_path / "key").write_bytes(files["key"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ioreg").write_text(FAKE_IOREG)
    (bin_dir / "ioreg").chmod(0o755)
    state = tmp_path / "locked"
    state.write_text("No")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PH_DIR": str(tmp_path),
        "PH_LOGIN": "alice",
        "PH_DEVICE": "MacBook-7",
        "PH_POLL_SECONDS": "1",
        "PH_HEARTBEAT_SECONDS": "0",
        "FAKE_IOREG_STATE": str(state),
    }

    def events() -> list[str]:
        return list(Trigger.objects.order_by("id").values_list("event", flat=True))

    def wait_for(expected: list[str]) -> None:
        deadline = time.monotonic() + 60  # a hang guard: the script polls every second
        while events() != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events() == expected

    process = subprocess.Popen(
        ["bash", str(tmp_path / "presence-heartbeat.sh"), "run"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(["logon"])
        state.write_text("Yes")
        wait_for(["logon", "lock"])
        state.write_text("No")
        wait_for(["logon", "lock", "unlock"])
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert events() == ["logon", "lock", "unlock", "logoff"]
    assert set(Trigger.objects.values_list("device", flat=True)) == {"MacBook-7"}
    assert oct((tmp_path / "key").stat().st_mode & 0o777) == oct(0o600)
    assert clear not in stderr
