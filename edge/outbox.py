"""The outbox: a durable, bounded store-and-forward queue of upstream events.

Every event the agent produces is written here *before* anything is sent, in one SQLite
transaction that also allocates its sequence number. The database runs in WAL mode with
``synchronous=FULL``: once :meth:`Outbox.append` returns, the event and its ``seq``
survive SIGKILL and power loss, and a ``seq`` is never handed out twice.

Life of an event::

    append() --> pending --publish, PUBACK--> awaiting the cloud's confirmation
                     ^                          | weigh-in:  receipt -> deleted (+ recorded)
                     |                          | fill, health (and a weigh-in the cloud
                     |                          |   kept as a dead letter): ack -> deleted
                     +---- requeue() after the confirmation timeout, or when an ingest
                           worker announces it (re)subscribed (the cloud is idempotent)

The broker's PUBACK is not the end: a broker that restarts (or crashes) before ingest
has the message drops it, so the outbox is the record until the cloud confirms.

Bounds (``capacity`` events in all):

- a weigh-in that would exceed the capacity is **refused**: :class:`OutboxFull` is raised,
  the refusal is counted (persisted) and the station shows it; nothing is dropped;
- telemetry (fill, health, config) may use at most ``telemetry_share`` of the capacity; beyond it
  the *oldest* telemetry is deleted to make room (*thinned*, counted). Weigh-ins are never
  thinned.

Thread-safety: every method takes one lock; the scale thread appends while the MQTT
thread pumps. Sequence numbers may have gaps (thinned telemetry); they never repeat.

Example::

    box = Outbox("/var/lib/salinmas/outbox.db", capacity=50_000)
    seq = box.append("weighin", lambda seq: make_payload(seq))
    for entry in box.pending(limit=20):
        publish(entry)

One module of ~430 lines on purpose: one class over one SQLite file, whose every
method takes the same lock and keeps the same invariants (seq never repeats, weigh-ins
never thinned); the invariants are easier to check in one place.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

WEIGHIN = "weighin"
TELEMETRY_KINDS = frozenset({"fill", "health", "config"})
KINDS = TELEMETRY_KINDS | {WEIGHIN}

#: receipts kept for the station's display and log
RECEIPTS_KEPT = 1000

PENDING = 0
#: the broker acknowledged it; the cloud has not confirmed it yet (receipt or ack)
AWAITING = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0), ('refused', 0), ('thinned', 0);
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    created_at REAL    NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_state_seq ON events (state, seq);
CREATE TABLE IF NOT EXISTS chains (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL,
    digest   TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    event_id    TEXT    PRIMARY KEY,
    seq         INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    received_at REAL    NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record of a hash chain: its position (0: none yet) and its hash (hex)."""

    position: int
    digest: str


class OutboxFull(Exception):
    """A weigh-in was refused because the outbox holds ``capacity`` events."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    capacity: int
    weighins: int
    telemetry: int
    awaiting: int
    last_seq: int
    refused: int
    thinned: int


class Outbox:
    """A durable queue of events with per-device sequence numbers (see module docs)."""

    def __init__(
        self,
        path: str | Path,
        *,
        capacity: int = 50_000,
        telemetry_share: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if not 0 < telemetry_share <= 1:
            raise ValueError(f"telemetry_share must be in (0, 1], got {telemetry_share}")
        self.path = Path(path)
        self.capacity = capacity
        self.telemetry_limit = max(1, int(capacity * telemetry_share))
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"{self.path}: cannot use WAL journal (got {mode!r})")
            self._db.execute("PRAGMA synchronous=FULL")
            # the queue is read front to back: a small page cache keeps the agent's RSS low
            self._db.execute("PRAGMA cache_size=-512")
            self._db.executescript(_SCHEMA)
            self._weighins, self._telemetry = self._count()
        except Exception:
            self._db.close()
            raise

    # -- producing ---------------------------------------------------------------------

    def append(self, kind: str, build: Callable[[int], bytes]) -> int | None:
        """Store one event; ``build(seq)`` makes its payload with the allocated ``seq``.

        Returns the seq. A weigh-in when full raises :class:`OutboxFull`. Telemetry over
        its share first thins the oldest telemetry; when there is none left to thin (the
        outbox is full of weigh-ins) the new telemetry is dropped and ``None`` returned.
        Both are counted (``refused``, ``thinned``).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        with self._lock:
            if kind == WEIGHIN and self._weighins + self._telemetry >= self.capacity:
                self._bump("refused")
                raise OutboxFull(f"outbox holds {self.capacity} events; weigh-in refused")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                thinned = 0
                if kind != WEIGHIN:
                    over = max(
                        self._telemetry + 1 - self.telemetry_limit,
                        self._weighins + self._telemetry + 1 - self.capacity,
                    )
                    if over > 0:
                        thinned = db.execute(
                            "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                            "WHERE kind != ? ORDER BY seq LIMIT ?)",
                            (WEIGHIN, over),
                        ).rowcount
                        dropped = 1 if thinned < over else 0
                        db.execute(
                            "UPDATE meta SET value = value + ? WHERE key = 'thinned'",
                            (thinned + dropped,),
                        )
                        if dropped:
                            db.execute("COMMIT")
                            self._telemetry -= thinned
                            return None
                (seq,) = db.execute(
                    "UPDATE meta SET value = value + 1 WHERE key = 'last_seq' RETURNING value"
                ).fetchone()
                payload = build(int(seq))
                db.execute(
                    "INSERT INTO events (seq, kind, payload, created_at) VALUES (?, ?, ?, ?)",
                    (seq, kind, payload, self._clock()),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if kind == WEIGHIN:
                self._weighins += 1
            else:
                self._telemetry += 1 - thinned
            return int(seq)

    def append_chained(
        self, kind: str, chain: str, build: Callable[[int, ChainHead], tuple[bytes, ChainHead]]
    ) -> int:
        """:meth:`append` for an event that links into the hash chain ``chain``.

        ``build(seq, head)`` gets the chain's head (position 0 before its first record)
        and returns the payload and the new head; both are stored in the transaction that
        stores the event, so the chain on disk never skips nor repeats a position, across
        crashes and restarts (a replay re-sends the stored bytes). Raises as :meth:`append`.
        """

        def linked(seq: int) -> bytes:  # runs inside append's transaction, under the lock
            row = self._db.execute(
                "SELECT position, digest FROM chains WHERE name = ?", (chain,)
            ).fetchone()
            head = ChainHead(int(row[0]), str(row[1])) if row else ChainHead(0, "")
            payload, new = build(seq, head)
            self._db.execute(
                "INSERT OR REPLACE INTO chains (name, position, digest) VALUES (?, ?, ?)",
                (chain, new.position, new.digest),
            )
            return payload

        seq = self.append(kind, linked)
        assert seq is not None  # a chained event is a weigh-in: refused, never dropped
        return seq

    def chain_head(self, chain: str) -> ChainHead:
        """The head of the hash chain ``chain`` (position 0 before its first record)."""
        with self._lock:
            row = self._db.execute(
                "SELECT position, digest FROM chains WHERE name = ?", (chain,)
            ).fetchone()
        return ChainHead(int(row[0]), str(row[1])) if row else ChainHead(0, "")

    # -- consuming ---------------------------------------------------------------------

    def pending(self, limit: int, *, exclude: Iterable[int] = ()) -> list[Entry]:
        """Up to ``limit`` pending events in seq order, skipping ``exclude`` (in flight)."""
        skip = set(exclude)
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload, attempts FROM events WHERE state = ? "
                "ORDER BY seq LIMIT ?",
                (PENDING, limit + len(skip)),
            ).fetchall()
        out = [Entry(int(s), str(k), bytes(p), int(a)) for s, k, p, a in rows if s not in skip]
        return out[:limit]

    def mark_published(self, seqs: Sequence[int]) -> None:
        """The broker acknowledged these: they await the cloud's confirmation."""
        if not seqs:
            return
        with self._lock, self._transaction() as db:
            for chunk in _chunks(seqs):
                marks = ",".join("?" * len(chunk))
                db.execute(
                    f"UPDATE events SET state = ?, attempts = attempts + 1 "  # noqa: S608
                    f"WHERE state = ? AND seq IN ({marks})",
                    (AWAITING, PENDING, *chunk),
                )

    def awaiting(self) -> list[tuple[int, int]]:
        """``(seq, attempts)`` of events the broker acknowledged and the cloud has not confirmed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, attempts FROM events WHERE state = ? ORDER BY seq", (AWAITING,)
            ).fetchall()
        return [(int(s), int(a)) for s, a in rows]

    def requeue(self, seqs: Sequence[int] | None = None) -> int:
        """Put unconfirmed events (``seqs``, or all of them) back to pending: published again."""
        with self._lock:
            n = 0
            with self._transaction() as db:
                if seqs is None:
                    return int(
                        db.execute(
                            "UPDATE events SET state = ? WHERE state = ?", (PENDING, AWAITING)
                        ).rowcount
                    )
                for chunk in _chunks(seqs):
                    marks = ",".join("?" * len(chunk))
                    n += db.execute(
                        f"UPDATE events SET state = ? WHERE state = ? AND seq IN ({marks})",  # noqa: S608
                        (PENDING, AWAITING, *chunk),
                    ).rowcount
            return n

    def confirm(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """The cloud's ``ack``: delete the events in these inclusive seq ranges, in one commit.

        Returns the seqs deleted (events already gone — thinned, or confirmed twice — are
        not in it). Ranges are applied in SQL, never expanded: a range is only as costly
        as the events it holds.
        """
        if not ranges:
            return []
        with self._lock:
            deleted: list[tuple[int, str]] = []
            with self._transaction() as db:
                for first, last in ranges:
                    deleted += db.execute(
                        "DELETE FROM events WHERE seq BETWEEN ? AND ? RETURNING seq, kind",
                        (first, last),
                    ).fetchall()
            weighins = sum(1 for _, k in deleted if k == WEIGHIN)
            self._weighins -= weighins
            self._telemetry -= len(deleted) - weighins
            return [int(seq) for seq, _ in deleted]

    def complete(self, seq: int, event_id: str, status: str, receipt: bytes) -> bool:
        """The cloud's receipt for weigh-in ``seq``: delete it and record the receipt.

        Returns ``True`` the first time, ``False`` for a repeated receipt (the weigh-in was
        already completed, or is not ours).
        """
        return self.complete_many([(seq, event_id, status, receipt)])[0]

    def complete_many(self, receipts: Sequence[tuple[int, str, str, bytes]]) -> list[bool]:
        """:meth:`complete` for a batch ``(seq, event_id, status, receipt)``, one commit."""
        if not receipts:
            return []
        with self._lock:
            firsts: list[bool] = []
            with self._transaction() as db:
                now = self._clock()
                for seq, event_id, status, receipt in receipts:
                    removed = db.execute(
                        "DELETE FROM events WHERE seq = ? AND kind = ?", (seq, WEIGHIN)
                    ).rowcount
                    firsts.append(removed > 0)
                    db.execute(
                        "INSERT OR REPLACE INTO receipts "
                        "(event_id, seq, status, payload, received_at) VALUES (?, ?, ?, ?, ?)",
                        (event_id, seq, status, receipt, now),
                    )
                db.execute(
                    "DELETE FROM receipts WHERE seq <= "
                    "(SELECT seq FROM receipts ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (RECEIPTS_KEPT,),
                )
            self._weighins -= sum(firsts)
            return firsts

    def receipts(self, limit: int = 20) -> list[tuple[int, str, bytes]]:
        """The most recent receipts as ``(seq, status, payload)``, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, status, payload FROM receipts ORDER BY received_at DESC, seq DESC "
                "LIMIT ?",
                (limit,),
            ).fetchall()
        return [(int(s), str(st), bytes(p)) for s, st, p in rows]

    # -- state -------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            (awaiting,) = self._db.execute(
                "SELECT count(*) FROM events WHERE state = ?", (AWAITING,)
            ).fetchone()
            return OutboxStats(
                depth=self._weighins + self._telemetry,
                capacity=self.capacity,
                weighins=self._weighins,
                telemetry=self._telemetry,
                awaiting=int(awaiting),
                last_seq=int(meta["last_seq"]),
                refused=int(meta["refused"]),
                thinned=int(meta["thinned"]),
            )

    @property
    def depth(self) -> int:
        with self._lock:
            return self._weighins + self._telemetry

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _count(self) -> tuple[int, int]:
        rows = dict(
            self._db.execute(
                "SELECT kind = ?, count(*) FROM events GROUP BY kind = ?", (WEIGHIN, WEIGHIN)
            ).fetchall()
        )
        return int(rows.get(1, 0)), int(rows.get(0, 0))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``; any failure rolls back (if still open), re-raised."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _bump(self, key: str) -> None:
        self._db.execute("UPDATE meta SET value = value + 1 WHERE key = ?", (key,))


def _chunks(seqs: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for i in range(0, len(seqs), size):
        yield seqs[i : i + size]
