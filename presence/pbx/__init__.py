"""The innovaphone PBX link: AppWebsocket protocol client and a simulator that speaks the same protocol.

Pure asyncio over `websockets`; nothing here imports Django models, so it is tested on its own.
"""

from __future__ import annotations

from .client import PbxClient, PbxEvents, normalise_user_row
from .config import LinkConfig, LinkState, make_ssl_context
from .digest import compact_json, login_digest
from .errors import ConnectionLost, LoginFailed, PbxError, PbxRequestError, RequestTimeout
from .handshake import check_login

__all__ = [
    "ConnectionLost",
    "LinkConfig",
    "LinkState",
    "LoginFailed",
    "PbxClient",
    "PbxError",
    "PbxEvents",
    "PbxRequestError",
    "RequestTimeout",
    "check_login",
    "compact_json",
    "login_digest",
    "make_ssl_context",
    "normalise_user_row",
]
