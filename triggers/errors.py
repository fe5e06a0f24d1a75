"""One error shape for the whole API: `{"error": code, "detail": message}` (+ `fields` for 400)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

log = logging.getLogger("triggers.api")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unreachable: nothing was stored. Retry in a few seconds."
    default_code = "unavailable"


class Refused(exceptions.APIException):
    """A trigger that is well-formed but may not be accepted (unknown user, not licensed, …)."""

    def __init__(self, status_code: int, code: str, detail: str):
        super().__init__(detail, code)
        self.status_code = status_code
        self.error_code = code


_CODES = {
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.ParseError: "malformed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.NotFound: "not_found",
    exceptions.PermissionDenied: "forbidden",
    PayloadTooLarge: "payload_too_large",
    Unavailable: "unavailable",
}


def error_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, Refused):
        return exc.error_code
    for cls, code in _CODES.items():
        if isinstance(exc, cls):
            return code
    return "error"


def error_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in detail.items()}
        summary = "; ".join(f"{name}: {msgs[0]}" for name, msgs in fields.items())
        return {"error": "invalid", "detail": f"Invalid trigger: {summary}", "fields": fields}
    return {"error": error_code(exc), "detail": str(exc.detail)}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: our error shape, and an audit row for authenticated refusals."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        # Not accepted, so nothing is lost: the computer's recipe retries with backoff.
        log.warning("trigger API: database unavailable (%s)", exc)
        response = Response({"error": "unavailable", "detail": Unavailable.default_detail}, status=503)
        response["Retry-After"] = "5"
        return response
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django answer 500 and log it
    body = error_body(exc)
    response = Response(body, status=exc.status_code)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    view = context.get("view")
    audit = getattr(view, "audit_refusal", None)
    if audit is not None:
        audit(context["request"], exc.status_code, body)
    return response
