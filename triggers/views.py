"""The trigger API: `POST /api/v1/triggers` and `GET /api/v1/triggers/<id>`. Thin on purpose."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from heartbeat_site import metrics
from triggers import accept
from triggers.auth import ApiKeyAuthentication
from triggers.errors import PayloadTooLarge
from triggers.models import ApiKey, Trigger
from triggers.parsers import JSONParser
from triggers.serializers import MAX_CLIENT_ID, ErrorSerializer, TriggerInSerializer, TriggerOutSerializer
from triggers.throttles import TriggerRateThrottle


def client_ip(request) -> str | None:
    """The caller's address; X-Forwarded-For only when a trusted proxy sets it."""
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def enforce_body_limit(request) -> None:
    try:
        size = len(request._request.body)
    except RequestDataTooBig:
        size = settings.TRIGGER_MAX_BODY + 1
    if size > settings.TRIGGER_MAX_BODY:
        raise PayloadTooLarge(f"The request body is over {settings.TRIGGER_MAX_BODY} bytes.")


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


class TriggerApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []

    def audit_refusal(self, request, status_code: int, body: dict) -> None:
        """Called by the exception handler: an authenticated request that was refused leaves a row."""
        api_key = getattr(request, "_auth", None)
        if not isinstance(api_key, ApiKey) or request.method != "POST":
            return
        if status_code == 429:  # counted in heartbeat_rate_limited_total: a loop must not fill the log
            return
        fields = getattr(self, "_refusal_fields", None)
        if fields is None:
            fields = {
                "api_key": api_key,
                "key_name": api_key.name,
                "user_value": self._raw(request, "user"),
                "event": self._raw(request, "event")[:64],
                "device": self._raw(request, "device"),
                "source_ip": client_ip(request),
                "received_at": timezone.now(),
            }
        accept.record_refusal(fields, status_code, body)

    @staticmethod
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


class TriggerCreateView(TriggerApiView):
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
        # Runs after authentication and before throttling (which reads the body): refuse big bodies first.
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
            first = accept.find_replay(api_key, client_id)
            if first is not None:
                status_code, body = accept.replay_body(first)
                return Response(body, status=status_code)
        serializer = TriggerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self._event = data["event"]
        try:
            trigger = accept.accept(
                api_key=api_key,
                user=data["user"].strip(),
                event=data["event"],
                at=data.get("at"),
                device=data["device"].strip(),
                client_id=client_id,
                source_ip=client_ip(request),
            )
        except accept.RefusedTrigger as exc:
            self._refusal_fields = exc.fields
            raise
        except accept.Replay as replay:
            status_code, body = accept.replay_body(replay.trigger)
            return Response(body, status=status_code)
        return Response(trigger.as_api(), status=202)


class TriggerDetailView(TriggerApiView):
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
