"""Trigger recipes: the files an administrator deploys on computers, rendered with URL, key and interval.

The templates live in `templates/recipes/<os>/` and are rendered by their own template engine
without HTML auto-escaping (they are shell, PowerShell, XML and plist files, not HTML); every value
that lands inside a script is quoted for that script's language here, not in the template. A
missing variable fails the rendering instead of leaving a hole in a script.

The URL also lands where nothing can be quoted: PowerShell help comments, shell comments, systemd's
Description=, README text and cmd lines (where `%` expands even inside quotes). There it is safe
because `heartbeat_site.helpers.public_url` lets only letters, digits and `. - _ ~ : / [ ]` through, which
end no string and no comment in any of those languages; nothing is rendered from a URL that fails it.

The clear API key is only known when a key is created, so it is passed in by the caller and never
stored; without it the key file holds `KEY_PLACEHOLDER`, which every script refuses loudly.
"""

from __future__ import annotations

import io
import ipaddress
import shlex
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.template import Context, Engine
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from heartbeat_site.helpers.public_url import check_public_url
from triggers.models import looks_like_key

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

KEY_PLACEHOLDER = "REPLACE-WITH-YOUR-API-KEY"
DEFAULT_HEARTBEAT_MINUTES = 5
MAX_HEARTBEAT_MINUTES = 60
# Every recipe retries one trigger for at most this long: after wake or logon the network often needs 30-60 s.
RETRY_SECONDS = 120
_MISSING = "@@MISSING-TEMPLATE-VARIABLE@@"


class RecipeError(Exception):
    """A recipe could not be rendered (unknown OS or file, bad key, missing template variable)."""


@dataclass(frozen=True)
class RecipeFile:
    """One file of a recipe: its name in the download, its template, how it is written."""

    name: str
    template: str
    mode: int = 0o644
    # Task Scheduler's own exports are UTF-16 with a byte-order mark; schtasks /xml reads them reliably.
    encoding: str = "utf-8"
    # Windows files get CRLF line ends (cmd needs them; Notepad shows them right).
    crlf: bool = False


@dataclass(frozen=True)
class Recipe:
    os: str
    title: StrOrPromise  # for people: a lazy translation, said in the reader's language
    files: tuple[RecipeFile, ...]
    # The one file that holds the key; written with the owner-only mode where the zip format can say so.
    key_file: str


WINDOWS_TASKS = ("lock", "unlock", "remote-connect", "remote-disconnect", "logon", "heartbeat", "sleep", "resume")

RECIPES: dict[str, Recipe] = {
    "windows": Recipe(
        os="windows",
        title=_("Windows (Task Scheduler, GPO logoff and computer shutdown scripts)"),
        key_file="key.txt",
        files=(
            RecipeFile("Install-PresenceHeartbeat.ps1", "windows/Install-PresenceHeartbeat.ps1", crlf=True),
            RecipeFile("Send-PresenceTrigger.ps1", "windows/Send-PresenceTrigger.ps1", crlf=True),
            RecipeFile("logoff.cmd", "windows/logoff.cmd", crlf=True),
            RecipeFile("computer/Send-ComputerEvent.ps1", "windows/computer/Send-ComputerEvent.ps1", crlf=True),
            *(
                RecipeFile(
                    f"tasks/presence-{task}.xml", f"windows/tasks/presence-{task}.xml", encoding="utf-16", crlf=True
                )
                for task in WINDOWS_TASKS
            ),
            RecipeFile("key.txt", "key.txt", mode=0o600),
            RecipeFile("README.txt", "windows/README.txt", crlf=True),
        ),
    ),
    "macos": Recipe(
        os="macos",
        title=_("macOS (LaunchAgent)"),
        key_file="key",
        files=(
            RecipeFile("install.sh", "macos/install.sh", mode=0o755),
            RecipeFile("presence-heartbeat.sh", "macos/presence-heartbeat.sh", mode=0o755),
            RecipeFile("com.presence-heartbeat.agent.plist", "macos/com.presence-heartbeat.agent.plist"),
            RecipeFile("com.presence-heartbeat.sleepwatcher.plist", "macos/com.presence-heartbeat.sleepwatcher.plist"),
            RecipeFile("key", "key.txt", mode=0o600),
            RecipeFile("README.txt", "macos/README.txt"),
        ),
    ),
    "linux": Recipe(
        os="linux",
        title=_("Linux (systemd user service, system unit for startup and shutdown)"),
        key_file="key",
        files=(
            RecipeFile("install.sh", "linux/install.sh", mode=0o755),
            RecipeFile("presence-heartbeat.sh", "linux/presence-heartbeat.sh", mode=0o755),
            RecipeFile("presence-heartbeat.service", "linux/presence-heartbeat.service"),
            RecipeFile("install-computer.sh", "linux/install-computer.sh", mode=0o755),
            RecipeFile("presence-heartbeat-computer.sh", "linux/presence-heartbeat-computer.sh", mode=0o755),
            RecipeFile("presence-heartbeat-computer.service", "linux/presence-heartbeat-computer.service"),
            RecipeFile("key", "key.txt", mode=0o600),
            RecipeFile("README.txt", "linux/README.txt"),
        ),
    ),
}

_engine = Engine(
    dirs=[str(settings.BASE_DIR / "templates" / "recipes")],
    autoescape=False,
    string_if_invalid=_MISSING,
    # The READMEs are for people: in the language of the admin who downloads them (the request's).
    libraries={"i18n": "django.templatetags.i18n"},
)


def trigger_url() -> str:
    """The trigger URL, from a PUBLIC_URL checked again here: it is written into scripts (settings
    refuse a bad one at start-up; this covers one set any other way)."""
    try:
        public_url = check_public_url(settings.PUBLIC_URL)
    except ValueError as exc:
        raise RecipeError(f"PUBLIC_URL={settings.PUBLIC_URL!r} cannot be written into a script: {exc}.") from None
    return f"{public_url}/api/v1/triggers"


def url_warnings(url: str) -> list[str]:
    """What is wrong with the trigger URL for computers in the field (the reference product warns the same)."""
    parts = urlsplit(url)
    warnings = []
    if parts.scheme != "https":
        warnings.append(
            gettext(
                "The trigger URL uses plain http: API keys and user names cross the network unencrypted. "
                "Serve it over https (set PUBLIC_URL) before deploying scripts."
            )
        )
    try:
        ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        pass
    else:
        warnings.append(
            gettext(
                "The trigger URL names an IP address: scripts break when the address changes, and no TLS "
                "certificate matches it. Use a DNS name in PUBLIC_URL."
            )
        )
    return warnings


def check_key(key: str | None) -> str | None:
    """The key to fill in, or None for the placeholder; refuses anything that is not an API key."""
    if key is None or not key.strip():
        return None
    key = key.strip()
    if not looks_like_key(key):
        raise RecipeError(gettext("That is not an API key (they look like phk_a1B2c3D4_…)."))
    return key


def check_minutes(minutes: int) -> int:
    if not 1 <= minutes <= MAX_HEARTBEAT_MINUTES:
        raise RecipeError(
            gettext("The heartbeat interval must be 1 to %(max)s minutes.") % {"max": MAX_HEARTBEAT_MINUTES}
        )
    return minutes


def _ps_quote(value: str) -> str:
    """A PowerShell single-quoted literal (no expansion inside; a quote is doubled)."""
    return "'" + value.replace("'", "''") + "'"


def context(key: str | None = None, heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES) -> dict:
    url = trigger_url()
    minutes = check_minutes(heartbeat_minutes)
    return {
        "url": url,
        "url_sh": shlex.quote(url),
        "url_ps": _ps_quote(url),
        "key": check_key(key) or KEY_PLACEHOLDER,
        "key_placeholder": KEY_PLACEHOLDER,
        "heartbeat_minutes": minutes,
        "heartbeat_seconds": minutes * 60,
        "retry_seconds": RETRY_SECONDS,
    }


def render_file(
    os_name: str, name: str, key: str | None = None, heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES
) -> bytes:
    """One file of a recipe as it is downloaded (bytes, in that file's encoding)."""
    recipe = get(os_name)
    for item in recipe.files:
        if item.name == name:
            return _render(item, context(key, heartbeat_minutes))
    raise RecipeError(f"No file {name!r} in the {os_name} recipe.")


def _render(item: RecipeFile, ctx: dict) -> bytes:
    text: str = _engine.get_template(item.template).render(Context(ctx, autoescape=False))
    if _MISSING in text:
        raise RecipeError(f"{item.template} uses a variable the recipe context does not have.")
    if item.crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if item.encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")  # little-endian with a byte-order mark
    return text.encode(item.encoding)


def get(os_name: str) -> Recipe:
    try:
        return RECIPES[os_name]
    except KeyError:
        raise RecipeError(f"No recipe for {os_name!r}: use one of {', '.join(RECIPES)}.") from None


def render(
    os_name: str, key: str | None = None, heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES
) -> dict[str, bytes]:
    """Every file of a recipe, by its name in the download."""
    recipe = get(os_name)
    ctx = context(key, heartbeat_minutes)
    return {item.name: _render(item, ctx) for item in recipe.files}


def zip_bundle(os_name: str, key: str | None = None, heartbeat_minutes: int = DEFAULT_HEARTBEAT_MINUTES) -> bytes:
    """The recipe as one zip, under a folder named after it; scripts executable, the key file 0600."""
    recipe = get(os_name)
    files = render(os_name, key, heartbeat_minutes)
    modes = {item.name: item.mode for item in recipe.files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"presence-heartbeat-{os_name}/{name}", date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | modes[name]) << 16  # a regular file with Unix permissions
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class OneLiner:
    id: str
    label: str
    text: str


def one_liners(key: str | None = None) -> list[OneLiner]:
    """Copy-paste lines for a quick test or a minimal deployment, with URL and key filled in."""
    url = trigger_url()
    shown = check_key(key) or KEY_PLACEHOLDER
    return [
        OneLiner(
            "cmd",
            gettext("Windows cmd (curl.exe)"),
            f'curl.exe -sS --retry 5 --retry-connrefused --retry-delay 5 -H "Authorization: Bearer {shown}" '
            f'-d "user=%USERNAME%" -d "event=logon" -d "device=%COMPUTERNAME%" "{url}"',
        ),
        OneLiner(
            "gpo",
            gettext("Windows GPO logoff script (.cmd, user context)"),
            f'curl.exe -sS -m 10 --retry 3 --retry-connrefused -H "Authorization: Bearer {shown}" '
            f'-d "user=%USERNAME%" -d "event=logoff" -d "device=%COMPUTERNAME%" "{url}"',
        ),
        OneLiner(
            "computer",
            "Windows GPO computer shutdown script (.cmd, runs as SYSTEM: no user, the server finds them)",
            f'curl.exe -sS -m 5 --retry 2 --retry-connrefused -H "Authorization: Bearer {shown}" '
            f'-d "event=shutdown" -d "device=%COMPUTERNAME%" "{url}"',
        ),
        OneLiner(
            "powershell",
            gettext("PowerShell (Invoke-RestMethod)"),
            f"Invoke-RestMethod -Method Post -Uri {_ps_quote(url)} "
            f"-Headers @{{ Authorization = 'Bearer {shown}' }} "
            "-Body @{ user = $env:USERNAME; event = 'logon'; device = $env:COMPUTERNAME; "
            "at = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ') }",
        ),
        OneLiner(
            "curl",
            gettext("macOS / Linux (curl)"),
            f'curl -sS --retry 5 --retry-connrefused -H "Authorization: Bearer {shown}" '
            f'-d "user=$USER" -d "event=lock" -d "device=$(hostname)" '
            f'-d "at=$(date -u +%Y-%m-%dT%H:%M:%SZ)" {shlex.quote(url)}',
        ),
    ]
