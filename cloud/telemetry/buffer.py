"""A durable FIFO of line-protocol lines in a SQLite file (WAL, synchronous=FULL).

Lines wait here until InfluxDB has accepted them, so an InfluxDB outage or a crash of
the ingest loses nothing: on restart the backlog is sent first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path


class DurableBuffer:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY, line TEXT, error TEXT)"
        )
        self._count = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def add(self, lines: Sequence[str]) -> None:
        """Append lines durably (one fsync'd transaction)."""
        if not lines:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO pending(line) VALUES (?)", [(ln,) for ln in lines]
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count += len(lines)

    def peek(self, n: int) -> list[tuple[int, str]]:
        """The oldest ``n`` lines as ``(id, line)``."""
        with self._lock:
            return list(self._db.execute("SELECT id, line FROM pending ORDER BY id LIMIT ?", (n,)))

    def remove_through(self, last_id: int) -> None:
        """Drop every line up to and including ``last_id`` (they were accepted)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM pending WHERE id <= ?", (last_id,))
            self._count = max(0, self._count - cur.rowcount)

    def reject_through(self, last_id: int, error: str) -> None:
        """Move lines the server refused as bad data aside (kept for an operator)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO rejected(id, line, error) SELECT id, line, ? FROM pending "
                "WHERE id <= ?",
                (error[:500], last_id),
            )
            cur = self._db.execute("DELETE FROM pending WHERE id <= ?", (last_id,))
            self._db.execute("COMMIT")
            self._count = max(0, self._count - cur.rowcount)

    def __len__(self) -> int:
        return self._count

    def rejected_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM rejected").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
