"""The trigger API's JSON parser: DRF's, with JSON nested too deeply for Python refused as a 400."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """`[[[[…]]]]` a thousand levels deep fits in 4 KiB and makes `json` raise RecursionError, which
    DRF does not catch (it answered 500, in the throttle that reads the body first)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
