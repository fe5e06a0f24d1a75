"""Log hygiene: secrets never reach a log line, and what a client sends cannot forge or break one."""

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


def escape_controls(text: str) -> str:
    r"""Every character that is not printable written as its escape (`\n`, `\x85`, `\u2028`, `\ud800`).

    Log readers split lines on more than `\n` (U+0085, U+2028, U+2029), terminals obey `\x1b` and
    `\x9b`, bidi controls reorder what is shown, and a lone surrogate cannot be written as UTF-8 at
    all: a `device` name must not be able to forge a line, hide one or stop one being written.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message: API keys and passwords redacted, control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = escape_controls(redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
