"""Errors of the PBX link. Every one carries `reason`: text fit for an admin page or a log line."""

from __future__ import annotations


class PbxError(Exception):
    """Base of every PBX link error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoginFailed(PbxError):
    """The AppLogin handshake did not succeed.

    `kind` says why, so callers can tell a wrong secret from a PBX that is down:
    - `wrong_password`: AppLoginResult without `ok` (or `ok:false`) and no reason given; the PBX
      cannot tell us more, and a wrong password or App object Name is by far the common cause;
    - `refused`: AppLoginResult without `ok` but with an `error`/`errorText`, quoted in the message;
    - `closed`: the PBX closed the websocket during the handshake;
    - `timeout`: no AppChallengeResult/AppLoginResult within the request timeout;
    - `protocol`: the PBX answered something a login cannot use (e.g. no challenge);
    - `unreachable`: no websocket could be opened (DNS, TCP, TLS or HTTP upgrade failed).
    """

    KINDS = ("wrong_password", "refused", "closed", "timeout", "protocol", "unreachable")

    def __init__(self, reason: str, *, kind: str) -> None:
        super().__init__(reason)
        self.kind = kind


class ConnectionLost(PbxError):
    """The link is down (or went down while a request waited for its answer)."""


class RequestTimeout(PbxError):
    """The PBX did not answer a request within `LinkConfig.request_timeout`."""


class PbxRequestError(PbxError):
    """The PBX answered a request with a non-zero `error` (e.g. SetPresence for an unknown user)."""

    def __init__(self, reason: str, *, code: int, text: str) -> None:
        super().__init__(reason)
        self.code = code
        self.text = text
