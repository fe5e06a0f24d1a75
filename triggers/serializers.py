"""The shape of a trigger request, checked before anything is written."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from heartbeat_site.helpers.drf import ShallowFieldsSerializer
from presence.models import EventRule
from triggers.models import DEVICE_EVENTS

MAX_CLIENT_ID = 128  # Trigger.client_id's length


def printable(value: str) -> None:
    """Refuse control characters: a NUL cannot be stored in PostgreSQL text, the rest is noise."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise serializers.ValidationError("Control characters (such as NUL or line breaks) are not allowed.")


class TriggerInSerializer(ShallowFieldsSerializer):
    user = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        validators=[printable],
        help_text=r"Login name, DOMAIN\login, e-mail or number. Leave it out for a computer-level event "
        "(shutdown, startup, sleep, resume) that names only the device: it goes to the users on that device.",
    )
    event = serializers.CharField(
        max_length=64,
        validators=[printable],
        help_text="logon, logoff, lock, unlock, shutdown, startup, sleep, resume, heartbeat, or a custom event.",
    )
    at = serializers.DateTimeField(required=False, help_text="ISO-8601 time the event happened; default now.")
    device = serializers.CharField(max_length=255, required=False, allow_blank=True, default="", validators=[printable])
    id = serializers.CharField(
        max_length=MAX_CLIENT_ID,
        required=False,
        allow_blank=True,
        default="",
        validators=[printable],
        help_text="Idempotency key.",
    )

    def validate_event(self, value: str) -> str:
        value = value.strip().lower()
        if not EventRule.accepts(value):
            raise serializers.ValidationError(f"Unknown event {value!r}: use {EventRule.accepted_text()}.")
        return value

    def validate(self, attrs: dict) -> dict:
        """A trigger names a user; only a computer-level event may name just its device instead.

        `user` and `device` arrive stripped (DRF's CharField trims whitespace)."""
        if attrs.get("user"):
            return attrs
        if attrs["event"] not in DEVICE_EVENTS:
            raise serializers.ValidationError({"user": [serializers.Field.default_error_messages["required"]]})
        if not attrs.get("device"):
            raise serializers.ValidationError(
                {"device": ["Name the computer: a computer-level event without a user needs its device."]}
            )
        return attrs

    def validate_at(self, value: dt.datetime) -> dt.datetime:
        limit = timezone.now() + dt.timedelta(seconds=settings.TRIGGER_MAX_FUTURE_SECONDS)
        if value > limit:
            raise serializers.ValidationError(
                f"'at' lies more than {settings.TRIGGER_MAX_FUTURE_SECONDS} s in the future: "
                "check the computer's clock."
            )
        return value


class TriggerOutSerializer(serializers.Serializer):
    """What the API answers (documented in the OpenAPI schema)."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["queued", "applied", "skipped", "failed", "refused", "superseded", "dispatched"]
    )
    user = serializers.CharField(required=False, help_text="Absent for a computer-level event sent without a user.")
    event = serializers.CharField()
    at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    device = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    applied_at = serializers.DateTimeField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    # A field named `fields` (the API's key), taken out of the class by DRF's metaclass like every field.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


MAX_JSON_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with JSON nested more than MAX_JSON_DEPTH levels refused as a 400 "malformed".

    `[[[[…]]]]` a thousand levels deep fits in 4 KiB and makes `json` raise RecursionError, which DRF does
    not catch; whether it does depends on the interpreter's recursion limit and the stack in use, so the
    depth is also checked after a successful parse: the same body gets the same answer every time."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
        else:
            if json_depth(data) <= MAX_JSON_DEPTH:
                return data
        raise ParseError("JSON parse error - the document is nested too deeply.")


def json_depth(value: object) -> int:
    """How many arrays and objects deep a parsed JSON value goes (iteratively: no recursion to overflow)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest
