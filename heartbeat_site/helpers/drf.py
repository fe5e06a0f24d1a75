"""Django REST framework, where the trigger API's hot path needs less of it.

`ShallowFieldsSerializer.get_fields` replaces DRF's, which deep-copies every declared field with its
validators for every request; it buys 10–17 % of the accept path's CPU (tests/bench/bench_overrides.py).
The copies are bound to the serializer instance; what they share (validators, messages) is only ever
read. tests/test_framework_overrides.py breaks when DRF's own get_fields stops deep-copying.
"""

from __future__ import annotations

import copy

from rest_framework import serializers


class ShallowFieldsSerializer(serializers.Serializer):
    def get_fields(self) -> dict:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}
