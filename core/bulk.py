"""Inserting many rows given as columns, for the hot paths that write hundreds a transaction.

Django's bulk_create takes model instances: building one per row, preparing every field's
value, and (with the default client-side binding) quoting the values into the SQL text
was most of what a dispatcher batch cost (docs/scaling.md, "Dispatcher"). rows_insert
takes the columns the caller has and sends each as one array parameter, bound on the
server: `INSERT … SELECT … FROM unnest(…)`. Every other field gets its model default, as
bulk_create would give it, so a field added later needs no change here.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.db import IntegrityError, connection, models, transaction
from django.db.models import NOT_PROVIDED, Field, Model
from django.utils import timezone


def rows_insert(
    model: type[Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    returning: Sequence[str] = ("id",),
    ignore_conflicts: bool = False,
) -> list[tuple]:
    """Insert one row per position of `columns` (field attnames: that column's values, all
    of one length) with every other field at its default. Returns the `returning` fields
    of the rows inserted, in the given order. With ignore_conflicts, the rows a conflict
    skipped are left out."""
    size = {len(values) for values in columns.values()}
    if len(size) != 1:
        raise ValueError(f"columns of different lengths: {sorted(size)}")
    (n,) = size
    if not n:
        return []
    fields = {f.attname: f for f in model._meta.concrete_fields}
    if unknown := (set(columns) | set(returning)) - fields.keys():
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    if connection.vendor != "postgresql":
        rows = [
            model(**dict(zip(columns, row, strict=True)))
            for row in zip(*columns.values(), strict=True)
        ]
        if ignore_conflicts:
            made = _insert_each(model, rows)
        else:
            made = model._default_manager.bulk_create(rows)
        return [tuple(getattr(m, fields[name].attname) for name in returning) for m in made]
    return _insert_unnest(model, fields, columns, n, returning, ignore_conflicts)


def _insert_each(model: type[Model], rows: list[Model]) -> list[Model]:
    """The embedded default's (SQLite's) insert that skips conflicts: bulk_create's would
    not say which rows it skipped, so each row goes in its own savepoint, and the ones a
    constraint refused are left out. Slower than one statement, and the same rows."""
    made = []
    for row in rows:
        try:
            with transaction.atomic():
                model._default_manager.bulk_create([row])
        except IntegrityError:
            continue
        made.append(row)
    return made


def _insert_unnest(
    model: type[Model],
    fields: dict[str, Field],
    columns: Mapping[str, Sequence[Any]],
    n: int,
    returning: Sequence[str],
    ignore_conflicts: bool,
) -> list[tuple]:
    now = timezone.now()
    names: list[str] = []  # the table's columns written, in the SELECT's order
    selects: list[str] = []  # what each takes: an element of unnest's arrays, or one value
    arrays: list[str] = []  # unnest's arguments: one array parameter per column
    array_params: list[list[Any]] = []
    value_params: list[Any] = []
    for attname, field in fields.items():
        if field.primary_key or field.generated:
            continue  # the database makes these
        if attname not in columns and field.db_default is not NOT_PROVIDED:
            continue  # the database fills it
        per_row: list[Any] | None = None
        if attname in columns:
            per_row = _prepared(field, columns[attname])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            # One instant for the whole insert in the application's clock, as bulk_create
            # gives: not the database's now(), which a test's frozen clock does not move.
            one = now
        elif callable(field.default) and field.get_default() != field.get_default():
            # Made anew for each row and different each time (uuid4): one per row. A
            # default that is always equal ([], {}) is sent once.
            per_row = [field.get_db_prep_save(field.get_default(), connection) for _ in range(n)]
        else:
            one = field.get_default()
        names.append(str(field.column))
        db_type = _array_type(field)
        if per_row is None:
            value_params.append(field.get_db_prep_save(one, connection))
            selects.append(f"%s::{db_type}")
        else:
            selects.append(f"u.c{len(arrays)}")
            arrays.append(f"%s::{db_type}[]")
            array_params.append(per_row)
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in names)}) "
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(arrays)}) AS u({aliases})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(str(fields[name].column)) for name in returning)}"
    # The single values' placeholders come first in the text, then unnest's. RETURNING
    # gives the rows in unnest's order, as Django's own unnest bulk insert relies on.
    with _server_bound_cursor() as cursor:
        cursor.execute(sql, [*value_params, *array_params])
        return cursor.fetchall() if returning else []


# Fields whose values psycopg takes as they are, when they have this Python type: preparing
# them one by one (get_db_prep_save) would only check that again, at about a microsecond a
# value. Exact classes: a subclass may prepare its values its own way.
_AS_IS: dict[type[Field], type] = {
    models.AutoField: int,
    models.BigAutoField: int,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
}


def _prepared(field: Field, values: Sequence[Any]) -> list[Any]:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    kind = _AS_IS.get(type(target))
    if kind is not None and all(v is None or isinstance(v, kind) for v in values):
        return list(values)
    return [field.get_db_prep_save(v, connection) for v in values]


def _array_type(field: Field) -> str:
    # The column's type without its length (varchar, not varchar(200)), as Django's own
    # unnest insert does: a value too long fails on the column, not silently in the cast.
    # A foreign key's db_type is its target's.
    return str(field.db_type(connection)).split("(")[0]


def _server_bound_cursor():
    """A cursor of the default connection binding its parameters on the server, wrapped as
    Django wraps its own, so query logging and execute_wrapper see its statements. It never
    prepares a statement: Django opens the connection with prepare_threshold=None, which
    keeps poolers in transaction mode working."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    # Django's wrappers take any DB-API cursor; their stubs name Django's own.
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)  # type: ignore[arg-type]
    return connection.make_cursor(raw)  # type: ignore[arg-type]
