"""The mark of tests that need PostgreSQL: skipped, with the reason, in the SQLite pass of make test."""

from __future__ import annotations

import pytest
from django.db import connection


def only_on_postgresql(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        connection.vendor != "postgresql", reason=f"{why} (run with `python -m tests.services -- pytest …`)"
    )


def scalar(sql: str, params: list | tuple = ()) -> object:
    """The single value a query returns, on this test's own connection."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
