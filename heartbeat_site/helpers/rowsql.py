"""Rows read and written by the link worker with SQL written once (its planning rounds and batches).

- `update_rows` replaces `bulk_update`, which builds a CASE WHEN per object and field: the worker's
  biggest cost per trigger (tests/bench/README.md). `executemany` of one UPDATE per row; values go
  through each field's `get_db_prep_save` as `save()` would.
- `Columns` builds instances from a hand-written SELECT through the backend's and the fields'
  converters and the documented `Model.from_db`, as a queryset would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from django.db import connection, models


def _concrete(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def update_rows(model: type[models.Model], fields: list[str], objects: Iterable[models.Model]) -> int:
    """UPDATE model SET fields… WHERE pk = … for each object (the last one wins for a repeated pk)."""
    by_pk = {obj.pk: obj for obj in objects}
    if not by_pk:
        return 0
    columns = [_concrete(model, name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(column.column))} = %s" for column in columns)
    pk_field = model._meta.pk
    assert pk_field is not None  # every model that has rows has a primary key
    key = str(pk_field.column)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(key)} = %s"  # noqa: S608
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [pk]
        for pk, obj in by_pk.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)


M = TypeVar("M", bound=models.Model)


class Columns(Generic[M]):
    """Some of a model's columns in a hand-written SELECT, and how their values become an instance.

    For queries run on every planning round, where building the SQL through the ORM cost more than
    running it: the SQL is written once, and rows go through the backend's and the fields' converters
    (dates and booleans on SQLite, JSON) and the documented `Model.from_db`, as a queryset's would.
    Columns left out are deferred (loaded on access).
    """

    def __init__(self, model: type[M], alias: str, attnames: Iterable[str] | None = None):
        wanted = set(attnames) if attnames is not None else None
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if wanted is None or f.attname in wanted]
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list[tuple[int, list, Any]]] = {}
        self._select: dict[str, str] = {}

    def select(self) -> str:
        """The column list for the SELECT (`alias."column", …`)."""
        found = self._select.get(connection.vendor)
        if found is None:
            quote = connection.ops.quote_name
            found = self._select[connection.vendor] = ", ".join(
                f"{self.alias}.{quote(str(f.column))}" for f in self.fields
            )
        return found

    def __len__(self) -> int:
        return len(self.fields)

    def build(self, values: tuple | list) -> M:
        """An instance from this part of a row (values in `select()` order)."""
        values = list(values)
        for index, converters, col in self._converters_for_connection():
            value = values[index]
            for converter in converters:
                value = converter(value, col, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)

    def _converters_for_connection(self) -> list[tuple[int, list, Any]]:
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                col = field.get_col(self.alias)
                converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if converters:
                    found.append((index, converters, col))
            self._converters[connection.vendor] = found
        return found
