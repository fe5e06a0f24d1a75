"""`python3 -m heartbeat_site.envfile .env`: the `.env` of `make run`, with every secret it needs.

Creates the file (mode 600) or adds what an existing one lacks — never changes a value that is
there: SECRET_KEY and API_KEY_PEPPER always; the myApps App objects' passwords (MYAPPS_USER_PASSWORD,
MYAPPS_ADMIN_PASSWORD) for the embedded default, whose built-in PBX simulator then knows them. With
a real PBX (PBX_URL set) those are the passwords typed into the PBX's App objects: they are left to
the administrator, and the apps stay off until they are set.

Standard library only: `make` runs it before the virtualenv has Django. Its hints are in the language
of LANGUAGE_CODE (environment or the file), read from the project's compiled catalogue by Python's
own gettext.
"""

from __future__ import annotations

import gettext
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

ALWAYS = {"SECRET_KEY": 50, "API_KEY_PEPPER": 32}
EMBEDDED = {"MYAPPS_USER_PASSWORD": 24, "MYAPPS_ADMIN_PASSWORD": 24}
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read(path: Path) -> dict[str, str]:
    """The NAME=value lines of an env file (comments and blank lines skipped; quotes stripped)."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            match = _LINE.match(line)
            if match and not line.lstrip().startswith("#"):
                values[match.group(1)] = match.group(2).strip("'\"")
    return values


def ensure(path: Path, environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Add the missing secrets to `path`; returns (added, left to the administrator)."""
    have = read(path)

    def given(name: str) -> bool:
        return any(have.get(key) or environ.get(key) for key in (name, f"{name}_FILE"))

    wanted = dict(ALWAYS)
    left: list[str] = []
    if have.get("PBX_URL") or environ.get("PBX_URL"):
        left = [name for name in EMBEDDED if not given(name)]
    else:
        wanted.update(EMBEDDED)
    added = [name for name in wanted if not given(name)]
    if added:
        existed = path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as out:
            if existed and path.read_text() and not path.read_text().endswith("\n"):
                out.write("\n")
            for name in added:
                out.write(f"{name}={secrets.token_urlsafe(wanted[name])}\n")
        path.chmod(0o600)
    return added, left


LOCALE = Path(__file__).resolve().parent.parent / "locale"


def hints(path: Path, environ: Mapping[str, str]) -> gettext.NullTranslations:
    """The catalogue of LANGUAGE_CODE's language (English when there is none)."""
    language = (environ.get("LANGUAGE_CODE") or read(path).get("LANGUAGE_CODE") or "en").lower()
    return gettext.translation("django", LOCALE, languages=[language.replace("_", "-").split("-")[0]], fallback=True)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else ".env")
    added, left = ensure(path, os.environ)
    _ = hints(path, os.environ).gettext
    if added:
        print(_("Added %(names)s to %(file)s (fresh random values).") % {"names": ", ".join(added), "file": path})
    if left:
        print(
            _(
                "PBX_URL is set: the myApps apps stay off until %(names)s hold the passwords of their App objects "
                "on the PBX (docs/myapps.md)."
            )
            % {"names": ", ".join(left)}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
