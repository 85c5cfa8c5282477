"""Bulk writes through psycopg 3's COPY, inside the caller's SQLAlchemy transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql
from sqlalchemy import Connection


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """`COPY table (columns) FROM STDIN` of `rows` (tuples in column order), in `conn`'s current
    transaction: every index, constraint and trigger of the table applies as for an INSERT, and
    any failure raises (a psycopg error) and leaves the transaction to be rolled back, or rolled
    back to a savepoint. Values go as text: str, int, bool, Decimal, date, datetime and None as
    they are; a json/jsonb column takes its JSON text as a str."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def set_async_commit(conn: Connection) -> None:
    """This transaction's COMMIT returns before its WAL is flushed to disk. A crash of the server
    may then lose it, and every later transaction with it (the WAL is replayed in order), never
    part of it: for work that is safe to redo and that ends in a synchronous commit, which flushes
    all of it at once."""
    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
