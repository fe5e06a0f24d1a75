"""The admin's JSON form field, with JSON nested deeper than Python parses refused as invalid input."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class BoundedJSONField(forms.JSONField):
    """Django's JSONField form field catches JSONDecodeError only: `[[[…]]]` a few thousand levels
    deep raised RecursionError in the admin (a 500), both when cleaning and when showing the form again."""

    default_error_messages = {"too_deep": _("The JSON is nested too deeply.")}

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError(self.error_messages["too_deep"], code="too_deep") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


# For a ModelAdmin: `formfield_overrides = BOUNDED_JSON`.
BOUNDED_JSON: dict[type[models.Field], dict[str, Any]] = {models.JSONField: {"form_class": BoundedJSONField}}
