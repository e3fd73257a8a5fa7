"""Bulk writes through PostgreSQL COPY, with ids taken from the tables' own sequences; knows no app.

bulk_create spends most of its time building SQL text in Python (about 9 s for 100,000
messages); COPY streams the same rows in a fraction of that. Columns not given take the model
field's default (or the value `fixed` gives for every row), as bulk_create would; database
triggers (the message search vector) still run. Rows are written in COPY's text format by
`_text`, which knows the few Python types bulk writers use (text, numbers, booleans, dates and
times, JSON for JSONField columns). Callers are inside a transaction: a failure leaves nothing behind.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone
from psycopg import sql

_temp = itertools.count(1)


def reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """`n` fresh primary keys from the model's id sequence."""
    if n <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [model._meta.db_table, n])
        return [row[0] for row in cursor.fetchall()]


def _json_columns(model: type[models.Model]) -> set[str]:
    return {f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}


_ESCAPE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _text(value) -> str:
    """One value in COPY's text format (the psycopg per-row adaptation costs ~5 µs a row)."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return value.translate(_ESCAPE)
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return str(value)
    if isinstance(value, list) and not value:
        return "{}"  # an empty ArrayField
    if isinstance(value, str):  # a TextChoices member
        return str(value).translate(_ESCAPE)
    raise TypeError(f"no COPY text form for {kind.__name__}")


def _json_text(value) -> str:
    return "\\N" if value is None else json.dumps(value, cls=DjangoJSONEncoder).translate(_ESCAPE)


def _layout(model: type[models.Model], given: Sequence[str], fixed: Mapping[str, object]) -> tuple[list[str], str]:
    """All concrete columns (given first, then the rest) and the rest's values as COPY text:
    the one `fixed` names, else the field's default."""
    now = timezone.now()
    json_columns = _json_columns(model)
    rest, defaults = [], []
    for f in model._meta.concrete_fields:
        if f.attname in given or f.primary_key:
            continue
        if f.attname in fixed:
            value = fixed[f.attname]
        elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            value = now
        else:
            value = f.get_default()  # "" for text columns without a default, as Model() gives
        rest.append(f.attname)
        defaults.append(_json_text(value) if f.attname in json_columns else _text(value))
    columns = [model._meta.get_field(name).column for name in (*given, *rest)]
    return columns, "".join("\t" + d for d in defaults)


def _lines(model, given: Sequence[str], rows: Iterable[tuple], tail: str = "") -> Iterable[str]:
    json_columns = _json_columns(model)
    formats = [_json_text if name in json_columns else _text for name in given]
    for row in rows:
        yield "\t".join([f(v) for f, v in zip(formats, row, strict=True)]) + tail + "\n"


def _copy(cursor, table: str, columns: list[str], lines: Iterable[str], chunk: int = 5000) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    # COPY runs on the raw psycopg cursor: without the wrapper a unique violation would surface as
    # psycopg's error, not django.db.IntegrityError, and callers' conflict handling would miss it.
    with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= chunk:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


def copy_insert(model: type[models.Model], given: Sequence[str], rows: Iterable[tuple], *, ignore_conflicts: bool = False,
                fixed: Mapping[str, object] | None = None) -> None:
    """Insert rows (tuples in the order of `given`; without "id" the table's sequence numbers
    them); `fixed` maps other fields (attnames) to one value for every row. With ignore_conflicts,
    rows that would break a unique constraint are left out (through a temporary table)."""
    columns, tail = _layout(model, given, fixed or {})
    full = _lines(model, given, rows, tail)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if not ignore_conflicts:
            _copy(cursor, table, columns, full)
            return
        temp = f"copy_{next(_temp)}"
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        # Only the columns written, without constraints: a row without "id" takes the table's own
        # sequence in the INSERT (a LIKE copy would keep id NOT NULL and lose its identity default).
        cursor.execute(sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(temp), names, sql.Identifier(table)))
        _copy(cursor, temp, columns, full)
        cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            sql.Identifier(table), names, names, sql.Identifier(temp)))
        cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(temp)))


def copy_update(model: type[models.Model], given: Sequence[str], rows: Iterable[tuple]) -> int:
    """UPDATE rows by id (the first of `given`) to the other given values, in one statement."""
    if given[0] != "id":
        raise ValueError("the first column must be the id")
    table = model._meta.db_table
    columns = ["id"] + [model._meta.get_field(name).column for name in given[1:]]
    temp = f"copy_{next(_temp)}"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(temp), sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)))
        _copy(cursor, temp, columns, _lines(model, given, rows))
        assignments = sql.SQL(", ").join(sql.SQL("{} = t.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in columns[1:])
        cursor.execute(sql.SQL("UPDATE {} AS m SET {} FROM {} AS t WHERE m.id = t.id").format(
            sql.Identifier(table), assignments, sql.Identifier(temp)))
        updated = cursor.rowcount
        cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(temp)))
        return updated
