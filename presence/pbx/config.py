"""What the PBX link is configured with, and the snapshot of its state it reports."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse


@dataclass
class LinkConfig:
    """How to reach and log in to the PBX. Built by the owner (the Django worker) from settings."""

    url: str
    app: str
    password: str
    ssl: ssl.SSLContext | None = None
    contact: str = "tel:"
    request_timeout: float = 10.0
    # Opening the websocket (TCP, TLS, HTTP upgrade) is not a request: a PBX across a WAN may take longer
    # to reach than to answer, and a short request timeout must not make it unreachable.
    connect_timeout: float = 10.0
    window: int = 64
    # Reference §2.5: the official JS library sends KeepAlive after 60 s of silence; stay below that.
    keepalive_interval: float = 30.0
    max_message: int = 1 << 20
    backoff_min: float = 0.5
    backoff_max: float = 32.0
    replicate_users: bool = True

    def __post_init__(self) -> None:
        scheme = urlparse(self.url).scheme
        if scheme not in ("ws", "wss"):
            raise ValueError(f"PBX url {self.url!r} must start with ws:// or wss://")
        if not self.app:
            raise ValueError("the App object name (app) must not be empty")
        if not 0 < self.keepalive_interval < 60:
            raise ValueError("keepalive_interval must be above 0 and below 60 s (reference §2.5)")
        if self.window < 1:
            raise ValueError("window must be at least 1")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if not 0 < self.backoff_min <= self.backoff_max:
            raise ValueError("backoff_min must be positive and not above backoff_max")

    def __repr__(self) -> str:
        # The password must never reach a log line, not even through a repr in a traceback.
        return f"LinkConfig(url={self.url!r}, app={self.app!r}, password='***', window={self.window})"


def make_ssl_context(url: str, ca_file: str = "", verify: bool = True) -> ssl.SSLContext | None:
    """The TLS context for `url`: None for ws://; for wss:// the system CAs (or `ca_file`), verified unless told not."""
    scheme = urlparse(url).scheme
    if scheme == "ws":
        return None
    if scheme != "wss":
        raise ValueError(f"PBX url {url!r} must start with ws:// or wss://")
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        # An explicit opt-out for labs with self-signed PBX certificates (PBX_TLS_VERIFY=false).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class LinkState:
    """A snapshot of the link for /healthz, /metrics and the admin."""

    connected: bool
    since: datetime | None
    last_error: str
    reconnects: int
    subscriptions: int
    in_flight: int
    logged_in_at: datetime | None
