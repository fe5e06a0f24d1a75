"""Log hygiene: secrets never reach a log line."""

from __future__ import annotations

import logging
import re

# API keys look like `phk_<prefix>_<secret>`; an Authorization header value may sneak into a message.
_PATTERNS = [
    (re.compile(r"phk_[A-Za-z0-9]{8}_[A-Za-z0-9_\-]{10,}"), "phk_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\"]+"), r"\1[redacted]"),
    (re.compile(r'(?i)("?(?:password|digest|pwd)"?\s*[:=]\s*"?)[^"\s,}]+'), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message so that API keys and passwords are never printed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
