"""PUBLIC_URL, checked strictly: it is written into PowerShell, shell, systemd, XML and cmd files.

A URL made of letters, digits and `. - _ ~ : / [ ]` only is inert in every one of those languages
(no quote, `#`, `%`, `$`, backtick, space or line break can end a string or a comment there), so
the check is what makes the recipes safe; where a language quotes values, they are quoted as well.
Imports nothing of Django: settings use it before the apps are loaded.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_ALPHABET = re.compile(r"[A-Za-z0-9._~:/\[\]-]")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
EXAMPLE = "https://presence.example.com (scheme, host, optional :port and /path)"


def _host_problem(host: str, bracketed: bool) -> str | None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"the host [{host}] is not an IPv6 address"
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"the host {host!r} is not a host name (letters, digits and '-' between dots) or an IPv4 address"
    return None


def check_public_url(url: str) -> str:
    """`url` without a trailing slash when it is a plain http(s) URL; ValueError saying why otherwise."""
    bad = sorted({ch for ch in url if not _ALPHABET.fullmatch(ch)})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise ValueError(
            f"it contains {shown}: only letters, digits and . - _ ~ : / [ ] may appear (no spaces, quotes, "
            "#, ?, %, @ or control characters)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535 (and an IPv6 host needs [brackets])") from None
    if parts.scheme.lower() not in ("http", "https") or not url.lower().startswith(f"{parts.scheme.lower()}://"):
        raise ValueError("it must start with http:// or https://")
    host = parts.hostname or ""
    if not host:
        raise ValueError("it names no host")
    if (port is not None and not 1 <= port <= 65535) or parts.netloc.endswith(":"):
        raise ValueError("the port must be a number from 1 to 65535")
    problem = _host_problem(host, bracketed=parts.netloc.startswith("["))
    if problem:
        raise ValueError(problem)
    segments = parts.path.rstrip("/").split("/")[1:] if parts.path else []
    if any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
        raise ValueError(
            f"the path {parts.path!r} must be /segments of letters, digits and . - _ ~ (no empty, . or ..)"
        )
    return url.rstrip("/")
