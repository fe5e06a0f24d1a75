"""gunicorn (WSGI) refuses a body over the limit from its Content-Length, before reading any of it
and before authentication (security review finding 1)."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from heartbeat_site.wsgi import application

pytestmark = pytest.mark.django_db


class Unreadable(io.RawIOBase):
    """A request body that must not be read: reading it fails the test."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def call(path: str, length: int) -> tuple[str, bytes]:
    environ: dict = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": Unreadable(),
    }
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(application(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


@pytest.mark.parametrize(
    ("path", "length"),
    [("/api/v1/triggers", 300_000_000), ("/api/v1/triggers", 4097), ("/admin/login/", 300_000_000)],
    ids=["api-300-mb", "api-one-byte-over", "admin-300-mb"],
)
def test_an_oversized_body_is_refused_from_its_length_without_reading_it(path, length):
    status, body = call(path, length)
    assert status.startswith("413")
    assert json.loads(body)["error"] == "payload_too_large"
