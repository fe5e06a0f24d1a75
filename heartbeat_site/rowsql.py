"""Rows written with SQL built once, for the two hottest writes: the worker's batched updates and the
accepted trigger's INSERT.

Django's `bulk_update` builds a CASE WHEN expression per object and field; for the link worker's
batches that cost more CPU than everything else it does per trigger (measured: 1.7 ms of the
worker's 3.1 ms per trigger). `Model.objects.create` compiles its INSERT anew for every row: the
trigger INSERT cost 196 µs of CPU on SQLite and 268–279 µs on PostgreSQL that way, 140 and
204–217 µs with the SQL built once (the largest single cost of accepting a trigger). Values still go
through each field's `pre_save` and `get_db_prep_save`, so defaults, dates, JSON and booleans are
adapted for the backend exactly as `save()` would. No model signals are sent.

`update_rows` is `executemany` of one UPDATE per row (psycopg pipelines them; SQLite runs them in C).
A single `UPDATE … FROM unnest(arrays)` on PostgreSQL was tried and measured no better: psycopg's
array dumping cost the client what the server saved (batches of 1, 5 and 30 rows).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models

_insert_sql: dict[tuple[str, type[models.Model], bool], tuple[str, list[models.Field]]] = {}


def update_rows(model: type[models.Model], fields: list[str], objects: Iterable[models.Model]) -> int:
    """UPDATE model SET fields… WHERE pk = … for each object (the last one wins for a repeated pk)."""
    by_pk = {obj.pk: obj for obj in objects}
    if not by_pk:
        return 0
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [pk]
        for pk, obj in by_pk.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)


def insert_row(obj: models.Model, *, notify: str | None = None) -> int:
    """INSERT one new object (autocommitted unless inside atomic()); sets and returns its primary key.

    `notify`: a PostgreSQL channel to NOTIFY in the same statement (delivered when the row commits).
    """
    model = type(obj)
    key = (connection.vendor, model, notify is not None)
    if key not in _insert_sql:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        values = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
        if connection.features.can_return_columns_from_insert:
            sql += f" RETURNING {quote(meta.pk.column)}"
        if notify is not None:
            sql = f"WITH inserted AS ({sql}) SELECT {quote(meta.pk.column)}, pg_notify(%s, '') FROM inserted"  # noqa: S608
        _insert_sql[key] = (sql, fields)
    sql, fields = _insert_sql[key]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    if notify is not None:
        params.append(notify)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if connection.features.can_return_columns_from_insert else cursor.lastrowid
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
    return pk


class Columns:
    """Some of a model's columns in a hand-written SELECT, and how their values become an instance.

    For queries run on every planning round, where building the SQL through the ORM cost more than
    running it: the SQL is written once, and rows go through the backend's and the fields' converters
    (dates and booleans on SQLite, JSON) and the documented `Model.from_db`, as a queryset's would.
    Columns left out are deferred (loaded on access).
    """

    def __init__(self, model: type[models.Model], alias: str, attnames: Iterable[str] | None = None):
        wanted = set(attnames) if attnames is not None else None
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if wanted is None or f.attname in wanted]
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list[tuple[int, list, models.Field]]] = {}
        self._select: dict[str, str] = {}

    def select(self) -> str:
        """The column list for the SELECT (`alias."column", …`)."""
        found = self._select.get(connection.vendor)
        if found is None:
            quote = connection.ops.quote_name
            found = self._select[connection.vendor] = ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)
        return found

    def __len__(self) -> int:
        return len(self.fields)

    def build(self, values: tuple | list) -> models.Model:
        """An instance from this part of a row (values in `select()` order)."""
        values = list(values)
        for index, converters, col in self._converters_for_connection():
            value = values[index]
            for converter in converters:
                value = converter(value, col, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)

    def _converters_for_connection(self) -> list[tuple[int, list, models.Field]]:
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
