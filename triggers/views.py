"""The trigger API: `POST /api/v1/triggers` and `GET /api/v1/triggers/<id>`, and its one error shape.

Thin on purpose: authentication, throttling and validation are attached pieces; a trigger's life
(accepted, refused, replayed) is `triggers.queue`'s. Every error is `{"error": code, "detail":
message}` (+ `fields` for 400), and a refusal after authentication leaves a row in the trigger log.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils import timezone, translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from heartbeat_site.helpers import metrics
from heartbeat_site.helpers.bodylimit import too_large_detail
from heartbeat_site.helpers.http import client_ip
from triggers import queue
from triggers.auth import ApiKeyAuthentication
from triggers.models import ApiKey, Trigger
from triggers.serializers import (
    MAX_CLIENT_ID,
    ErrorSerializer,
    JSONParser,
    TriggerInSerializer,
    TriggerOutSerializer,
)
from triggers.throttles import TriggerRateThrottle

log = logging.getLogger("triggers.api")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


UNAVAILABLE = "The database is unreachable: nothing was stored. Retry in a few seconds."
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
}


def error_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in detail.items()}
        summary = "; ".join(f"{name}: {msgs[0]}" for name, msgs in fields.items())
        return {"error": "invalid", "detail": f"Invalid trigger: {summary}", "fields": fields}
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    return {"error": code, "detail": str(exc.detail)}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: our error shape, and an audit row for authenticated refusals."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        # Not accepted, so nothing is lost: the computer's recipe retries with backoff.
        log.warning("trigger API: database unavailable (%s)", exc)
        response = Response({"error": "unavailable", "detail": UNAVAILABLE}, status=503)
        response["Retry-After"] = "5"
        return response
    request = context.get("request")
    if isinstance(exc, queue.Refused):
        queue.refuse(exc)
        return Response(exc.as_json(), status=exc.status)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django answer 500 and log it
    body = error_body(exc)
    response = Response(body, status=exc.status_code)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    wait = getattr(exc, "wait", None)  # Throttled's, set in its __init__ (not in DRF's stubs)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        response["Retry-After"] = str(int(wait) + 1)
    # A 429 writes no row (counted in heartbeat_rate_limited_total): a loop must not fill the log.
    if request is not None and isinstance(context.get("view"), TriggerCreateView) and exc.status_code != 429:
        fields = audit_fields(request)
        if fields is not None:
            queue.refuse(queue.Refused(exc.status_code, body["error"], body["detail"], fields))
    return response


def audit_fields(request) -> dict | None:
    """Who sent what, for the audit row of a refused POST; None before the key was accepted."""
    api_key = getattr(request, "_auth", None)
    if not isinstance(api_key, ApiKey) or request.method != "POST":
        return None
    return {
        "api_key": api_key,
        "key_name": api_key.name,
        "user_value": _raw(request, "user"),
        "event": _raw(request, "event")[:64],
        "device": _raw(request, "device"),
        "source_ip": client_ip(request),
        "received_at": timezone.now(),
    }


def _raw(request, name: str) -> str:
    try:
        value = request.data.get(name, "")
    except Exception:  # the body itself is the problem (413/415/400): record what we can
        return ""
    if not isinstance(value, str):
        return ""
    # The audit row keeps what was sent, minus what the database cannot store (NUL and friends,
    # and lone surrogates, which JSON can spell but no encoding can write).
    return "".join(
        "\ufffd" if ord(ch) < 32 or ord(ch) == 127 or "\ud800" <= ch <= "\udfff" else ch for ch in value[:255]
    )


def enforce_body_limit(request) -> None:
    try:
        size = len(request.body)
    except RequestDataTooBig:
        size = settings.TRIGGER_MAX_BODY + 1
    if size > settings.TRIGGER_MAX_BODY:
        raise PayloadTooLarge(too_large_detail(settings.TRIGGER_MAX_BODY))


def idempotency_header(request) -> str:
    """The `Idempotency-Key` header, or "" without one; 400 for a key the trigger log cannot keep."""
    value = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    if len(value) > MAX_CLIENT_ID or not value.isprintable():
        raise exceptions.ValidationError(
            {"Idempotency-Key": [f"Use at most {MAX_CLIENT_ID} printable characters (or send none)."]}
        )
    return value


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The API key in the OpenAPI schema (`X-Api-Key: <key>` is accepted too)."""

    target_class = "triggers.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer phk_…"}


_ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=text)
    for code, text in {
        400: "Invalid fields (see `fields`).",
        401: "Missing, unknown, expired, rotated-out or revoked API key.",
        403: "User not licensed, or the licence expired.",
        404: "No PBX user matches `user`.",
        409: "`user` matches several PBX users.",
        413: "Body over 4 KiB.",
        415: "Neither JSON nor form data.",
        429: "Rate limit; see Retry-After.",
    }.items()
}


# Real requests, as the recipes send them: in the docs, and the fuzzer's first cases (tests/test_bad_input.py).
TRIGGER_EXAMPLES = [
    OpenApiExample(
        "Screen locked",
        value={"user": "alice", "event": "lock", "device": "PC-17", "at": "2026-11-27T08:01:02Z", "id": "PC-17-4711"},
        request_only=True,
    ),
    OpenApiExample(
        "Windows logon", value={"user": "CORP\\alice", "event": "logon", "device": "PC-17"}, request_only=True
    ),
    OpenApiExample(
        "Heartbeat by e-mail", value={"user": "alice@corp.example", "event": "heartbeat"}, request_only=True
    ),
    OpenApiExample("Shutdown", value={"user": "alice", "event": "shutdown", "device": "PC-17"}, request_only=True),
]


class EnglishAnswers(APIView):
    """The API answers in English whatever the client's Accept-Language: its `detail` is machine text
    that scripts log and the trigger log keeps (the admin shows it translated, triggers.admin)."""

    def dispatch(self, request, *args, **kwargs):
        with translation.override("en"):
            response = super().dispatch(request, *args, **kwargs)
        response["Content-Language"] = "en"  # LocaleMiddleware would name the browser's language
        return response


class TriggerCreateView(EnglishAnswers):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []
    parser_classes = [JSONParser, FormParser]
    throttle_classes = [TriggerRateThrottle]

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        event = getattr(self, "_event", "") or "unknown"
        metrics.TRIGGERS.labels(event, str(response.status_code)).inc()
        if response.status_code == 202:
            metrics.ACCEPT_SECONDS.observe(time.perf_counter() - started)
        return response

    def check_permissions(self, request) -> None:
        # After authentication, before throttling and before anything parses the body: big bodies get 413 first.
        enforce_body_limit(request)
        super().check_permissions(request)

    @extend_schema(
        operation_id="post_trigger",
        summary="Report an event for a user",
        request={"application/json": TriggerInSerializer, "application/x-www-form-urlencoded": TriggerInSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": MAX_CLIENT_ID},
                OpenApiParameter.HEADER,
                required=False,
                description="A repeat returns the first answer and creates nothing (same as `id`).",
            )
        ],
        responses={202: TriggerOutSerializer, **_ERRORS},
        examples=TRIGGER_EXAMPLES,
    )
    def post(self, request) -> Response:
        api_key: ApiKey = request.auth
        client_id = idempotency_header(request)
        if not client_id and hasattr(request.data, "get") and isinstance(request.data.get("id"), str):
            client_id = request.data.get("id", "").strip()
        if len(client_id) <= MAX_CLIENT_ID and client_id.isprintable():
            first = queue.find_replay(api_key, client_id)
            if first is not None:
                return replayed(first)
        serializer = TriggerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self._event = data["event"]
        try:
            trigger = queue.accept(
                api_key=api_key,
                user=data["user"],
                event=data["event"],
                at=data.get("at"),
                device=data["device"],
                client_id=client_id,
                source_ip=client_ip(request),
            )
        except queue.Replay as replay:
            return replayed(replay.trigger)
        return Response(trigger.as_api(), status=202)


def replayed(trigger: Trigger) -> Response:
    """The answer the first request with this idempotency key got, from its row in the trigger log."""
    if trigger.status == Trigger.Status.REFUSED:
        body = {"error": trigger.decision.get("error", "refused"), "detail": trigger.reason}
        return Response(body, status=trigger.http_status)
    return Response(trigger.as_api(), status=trigger.http_status)


class TriggerDetailView(EnglishAnswers):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []

    @extend_schema(
        operation_id="get_trigger",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The trigger's id.")],
        responses={200: TriggerOutSerializer, 401: _ERRORS[401], 404: _ERRORS[404]},
    )
    def get(self, request, pk: str) -> Response:
        # Any text reaches here so that a malformed id gets our JSON 404, not Django's HTML page.
        trigger = None
        if pk.isascii() and pk.isdigit() and len(pk) <= 18:
            trigger = Trigger.objects.select_related("pbx_user").filter(pk=int(pk), api_key=request.auth).first()
        if trigger is None:
            raise exceptions.NotFound("No trigger with this id was sent with this key.")
        if trigger.status == Trigger.Status.REFUSED:
            return Response({**trigger.as_api(), "http_status": trigger.http_status})
        return Response(trigger.as_api())
