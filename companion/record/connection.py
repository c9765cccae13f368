"""The two kinds of connection the record's parts write through, and the rows they read back.

Why a module of its own: the parts, the queries and the migrations are written once for both; they name
these types, and `database` (which opens either) and `migrations` (which it runs) may both import them.
"""

from __future__ import annotations

import sqlite3

from companion.record.postgres import PostgresConnection, PostgresRow

Connection = sqlite3.Connection | PostgresConnection
"""SQLite's (or SQLCipher's, which has its interface) or a PostgreSQL server's, as `postgres` adapts it."""
Row = sqlite3.Row | PostgresRow
"""A row readable by column name and by position, either way."""
