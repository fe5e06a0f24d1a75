"""Opening the websocket and the AppWebsocket login handshake (reference §2), plus message parsing.

Kept apart from the client so that `check_login` (one login, then close) and the long-running link
share exactly the same handshake and the same error reasons.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from typing import Any
from urllib.parse import urlparse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .config import LinkConfig
from .digest import compact_json, login_digest
from .errors import LoginFailed

log = logging.getLogger("presence.pbx")

# How long a closing handshake may take before the socket is simply dropped.
CLOSE_TIMEOUT = 2.0


class _HideLoginFrames(logging.Filter):
    """websockets logs frames at DEBUG; the AppLogin frame carries the digest, which must never be logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "AppLogin" in record.getMessage():
            record.msg, record.args = "AppLogin frame (digest hidden)", ()
        return True


# The websockets library logs through this logger (frames at DEBUG), with login frames masked.
wire_log = logging.getLogger("presence.pbx.wire")
wire_log.addFilter(_HideLoginFrames())


def describe_close(exc: ConnectionClosed) -> str:
    return f"connection to the PBX lost ({exc})"


async def open_websocket(config: LinkConfig) -> ClientConnection:
    """Opens the websocket or raises LoginFailed(kind="unreachable") saying what to check."""
    host = urlparse(config.url).netloc
    options: dict[str, Any] = {
        "max_size": config.max_message,
        "open_timeout": config.connect_timeout,
        # Our own keepalive sends KeepAlive and pings only when the link is idle (PbxClient._keepalive).
        "ping_interval": None,
        "close_timeout": CLOSE_TIMEOUT,
        # Messages are small JSON objects (reference §6 "Message size"); deflate would only cost CPU.
        "compression": None,
        "logger": wire_log,
    }
    if config.ssl is not None:
        options["ssl"] = config.ssl
    try:
        return await connect(config.url, **options)
    except ssl.SSLCertVerificationError as exc:
        reason = (
            f"the TLS certificate of the PBX at {host} was not accepted ({exc.verify_message}): "
            f"set PBX_CA_FILE to the CA that signed it"
        )
    except InvalidStatus as exc:
        reason = (
            f"the PBX at {host} answered the websocket upgrade with HTTP {exc.response.status_code}: "
            f"check the path of PBX_URL (…/PBX0/APPS/websocket)"
        )
    except (InvalidURI, InvalidHandshake) as exc:
        reason = f"no websocket to the PBX at {host}: {exc}"
    except TimeoutError:
        reason = f"no websocket to the PBX at {host} within {config.connect_timeout:g} s"
    except OSError as exc:
        reason = f"cannot reach the PBX at {host}: {exc.strerror or exc}"
    raise LoginFailed(reason, kind="unreachable")


async def _recv_for_login(ws: ClientConnection, mt: str, *, phase: str, config: LinkConfig) -> dict:
    """The next message of type `mt`; anything else before it (KeepAlive, PbxInfo, junk) is skipped."""
    try:
        async with asyncio.timeout(config.request_timeout):
            while True:
                message = parse_message(await ws.recv())
                if message is not None and message.get("mt") == mt:
                    return message
    except TimeoutError:
        reason = f"the PBX did not answer {phase} within {config.request_timeout:g} s"
        raise LoginFailed(reason, kind="timeout") from None
    except ConnectionClosed as exc:
        hint = ": usually a wrong password or App object name" if phase == "AppLogin" else ""
        raise LoginFailed(
            f"the PBX closed the connection during {phase} for App object {config.app!r} ({exc}){hint}",
            kind="closed",
        ) from None


async def login(ws: ClientConnection, config: LinkConfig) -> None:
    """AppChallenge → AppChallengeResult → AppLogin → AppLoginResult (reference §2.2, §7.2)."""
    await ws.send(compact_json({"mt": "AppChallenge"}))
    reply = await _recv_for_login(ws, "AppChallengeResult", phase="AppChallenge", config=config)
    challenge = reply.get("challenge")
    # The challenge is opaque: digits on real PBXs, hex in the docs' examples (reference §2.2).
    if not isinstance(challenge, str) or not challenge:
        raise LoginFailed("the PBX sent an AppChallengeResult without a challenge", kind="protocol")
    # An App-object (service) login: empty domain/sip/guid/dn, no info, and never the session key
    # (reference §2.2, §6). The digest is a secret of this connection: it is never logged.
    digest = login_digest(app=config.app, password=config.password, challenge=challenge)
    login = {"mt": "AppLogin", "app": config.app, "domain": "", "sip": "", "guid": "", "dn": "", "digest": digest}
    await ws.send(compact_json(login))
    reply = await _recv_for_login(ws, "AppLoginResult", phase="AppLogin", config=config)
    if reply.get("ok") is True:
        return
    # The failure payload is undocumented (reference §2.2): no `ok`, `ok:false`, maybe error/errorText.
    error, text = reply.get("error"), reply.get("errorText")
    if text or error:
        detail = text if text else f"error {error}"
        raise LoginFailed(f"PBX refused the login for App object {config.app!r}: {detail}", kind="refused")
    raise LoginFailed(
        f"PBX refused the login for App object {config.app!r}: wrong password or App object name "
        f"(check PBX_APP and PBX_PASSWORD against the App object's Name and Password)",
        kind="wrong_password",
    )


async def check_login(config: LinkConfig) -> None:
    """Connects, logs in once and disconnects; raises LoginFailed saying why not. For checks and tests."""
    ws = await open_websocket(config)
    try:
        await login(ws, config)
    finally:
        await ws.close()


def parse_message(raw: str | bytes) -> dict | None:
    """One PBX message as a dict, or None (logged) for anything that is not a JSON object."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        log.warning("ignored a frame from the PBX that is not JSON (%d bytes)", len(raw))
        return None
    if not isinstance(message, dict):
        log.warning("ignored a JSON %s from the PBX: every message must be an object", type(message).__name__)
        return None
    return message
