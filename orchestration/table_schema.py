"""A DuckDB table's columns as Dagster's column schema, so the UI shows what each table holds; and
whether a table exists at all (a first sync, a table materialized alone)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg


def column_schema(con: Any, schema: str, table: str) -> dg.TableSchema:
    import dagster as dg  # here: `diff` and the source check use this module without Dagster

    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, data_type, constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
            for name, data_type, nullable in rows
        ]
    )


def column_names(con: Any, schema: str, table: str) -> list[str]:
    """The table's column names in order; empty when it does not exist (a warehouse of an earlier version)."""
    query = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
    )
    return [row[0] for row in con.execute(query, [schema, table]).fetchall()]


def table_exists(con: Any, schema: str, table: str) -> bool:
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    return bool(con.execute(query, [schema, table]).fetchall()[0][0])
