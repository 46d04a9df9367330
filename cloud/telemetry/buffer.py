"""A durable FIFO of line-protocol lines in a SQLite file (WAL, synchronous=FULL).

Lines wait here until InfluxDB has accepted them, so an InfluxDB outage or a crash of
the ingest loses nothing: on restart the backlog is sent first.

Each :meth:`DurableBuffer.add` is one row (the lines of one ingest batch joined by
newlines, with their count), so buffering costs one insert and one fsync per batch,
not per line. Rows of an older buffer file (one line each) read the same way.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
        # buckets of the rollups that readings arrived too late for (cloud.telemetry.rollups)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS late (rollup TEXT, key TEXT, bucket_ns INTEGER, "
            "PRIMARY KEY (rollup, key, bucket_ns)) WITHOUT ROWID"
        )
        for table in ("pending", "rejected"):
            cols = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "n" not in cols:  # a buffer file written before chunks: one line per row
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN n INTEGER NOT NULL DEFAULT 1")
        self._count = int(self._db.execute("SELECT coalesce(sum(n), 0) FROM pending").fetchone()[0])

    def add(self, lines: Sequence[str]) -> None:
        """Append lines durably (one fsync'd insert)."""
        if not lines:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO pending(line, n) VALUES (?, ?)", ("\n".join(lines), len(lines))
            )
            self._count += len(lines)

    def peek(self, max_lines: int) -> list[tuple[int, str, int]]:
        """The oldest chunks as ``(id, lines, count)``: up to ``max_lines`` lines, at
        least one chunk."""
        out: list[tuple[int, str, int]] = []
        total = 0
        with self._lock:
            cur = self._db.execute("SELECT id, line, n FROM pending ORDER BY id")
            try:
                for row_id, text, n in cur:
                    if out and total + n > max_lines:
                        break
                    out.append((row_id, text, n))
                    total += n
            finally:
                cur.close()
        return out

    def remove_through(self, last_id: int, late: Iterable[tuple[str, str, int]] = ()) -> None:
        """Drop every chunk up to and including ``last_id`` (they were accepted), and
        note in the same transaction the ``late`` rollup buckets they call for."""
        with self._lock, self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO late VALUES (?, ?, ?)", late)
            self._drop_through(last_id)

    def late(self, limit: int = 10_000) -> list[tuple[str, str, int]]:
        """Rollup buckets waiting to be re-rolled: ``(rollup, key, bucket start ns)``."""
        with self._lock:
            return [
                (str(r), str(k), int(b))
                for r, k, b in self._db.execute(
                    "SELECT rollup, key, bucket_ns FROM late ORDER BY rollup, key, bucket_ns "
                    "LIMIT ?",
                    (limit,),
                )
            ]

    def late_done(self, keys: Iterable[tuple[str, str, int]]) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "DELETE FROM late WHERE rollup = ? AND key = ? AND bucket_ns = ?", keys
            )

    def reject_through(self, last_id: int, error: str) -> None:
        """Move chunks the server refused as bad data aside (kept for an operator)."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO rejected(id, line, n, error) SELECT id, line, n, ? FROM pending "
                "WHERE id <= ?",
                (error[:500], last_id),
            )
            self._drop_through(last_id)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _drop_through(self, last_id: int) -> None:
        gone = self._db.execute(
            "SELECT coalesce(sum(n), 0) FROM pending WHERE id <= ?", (last_id,)
        ).fetchone()[0]
        self._db.execute("DELETE FROM pending WHERE id <= ?", (last_id,))
        self._count = max(0, self._count - int(gone))

    def __len__(self) -> int:
        return self._count

    def rejected_count(self) -> int:
        """Lines set aside because the server refused them."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(sum(n), 0) FROM rejected").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
