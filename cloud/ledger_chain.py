"""The journal's hash chain: every journal entry carries the hash of the one before it.

One chain over all journal entries, in the order they were written (``chain_pos`` 1, 2,
...). An entry's hash is the SHA-256 of ``salinmas/journal/v1`` + LF + the canonical JSON
(:func:`contract.signing.canonical_json`) of::

    {"chain_pos", "prev_hash", "kind", "created_at", "effective_at", "description",
     "created_by", "weighin_id", "reverses_entry_id",
     "postings": [[account_id, amount_rp], ...]}      # sorted

with times as :func:`contract.signing.canonical_time`. Changing an amount, moving a
posting to another entry, deleting or inserting an entry breaks the chain from there on;
``salinmas audit`` (:mod:`cloud.chain_audit`) walks it and prints the first break. Besides,
PostgreSQL and SQLite refuse ``UPDATE``/``DELETE`` on ``journal_entries`` and ``postings``
outright (triggers, migration ``0007_integrity``). A hash chain proves nothing against
someone who rewrites the *whole* chain from a point on: an auditor records the head
(``salinmas audit`` prints it) and the next audit checks that this head is still there.

The head lock: whoever writes entries first locks the head row (:func:`link`, ``SELECT
... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers)
and keeps it to the commit. It is the *last* lock a transaction takes (after the
weigh-in and account locks of :mod:`cloud.postings`), once per transaction however many
entries it writes: an ingest batch of a thousand credits takes it once, so concurrent
workers serialise only for the tail of their transactions (measured in
``docs/benchmarks.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from cloud.models import LedgerChainHead
from contract.signing import canonical_json, canonical_time

GENESIS_HASH = "0" * 64
DOMAIN = b"salinmas/journal/v1\n"
HEAD_ID = 1


def entry_hash(row: dict[str, Any], postings: Iterable[tuple[int, int]]) -> str:
    """The hash of one entry (``row`` as inserted: the columns above) and its postings."""
    record = {
        "chain_pos": row["chain_pos"],
        "prev_hash": row["prev_hash"],
        "kind": row["kind"],
        "created_at": canonical_time(row["created_at"]),
        "effective_at": canonical_time(row["effective_at"]),
        "description": row["description"],
        "created_by": row.get("created_by"),
        "weighin_id": row.get("weighin_id"),
        "reverses_entry_id": row.get("reverses_entry_id"),
        "postings": sorted([int(a), int(amt)] for a, amt in postings),
    }
    return hashlib.sha256(DOMAIN + canonical_json(record)).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    position: int
    digest: str


#: the head, locked (statements built once: run once per transaction that writes entries)
_HEAD = (
    select(LedgerChainHead.position, LedgerChainHead.digest)
    .where(LedgerChainHead.id == HEAD_ID)
    .with_for_update()
)
_MOVE_HEAD = (
    update(LedgerChainHead)
    .where(LedgerChainHead.id == HEAD_ID)
    .values(position=bindparam("new_position"), digest=bindparam("new_digest"))
)


def lock_head(session: Session) -> Head:
    """Lock the chain's head row for the rest of the transaction (made on first use)."""
    row = session.execute(_HEAD).first()
    if row is None:  # a database made without the migration's row (create_all)
        session.execute(insert(LedgerChainHead).values(id=HEAD_ID, position=0, digest=GENESIS_HASH))
        row = session.execute(_HEAD).one()
    return Head(int(row[0]), str(row[1]))


def link(
    session: Session, rows: Sequence[dict[str, Any]], postings: Sequence[Iterable[tuple[int, int]]]
) -> None:
    """Give each entry row (in order) its ``chain_pos``, ``prev_hash`` and ``entry_hash``
    and move the head past them; call right before inserting the rows (same transaction).

    ``rows`` must carry ``created_at`` (the value inserted), ``postings[i]`` the
    ``(account_id, amount_rp)`` pairs of ``rows[i]``.
    """
    if not rows:
        return
    head = lock_head(session)
    pos, prev = head.position, head.digest
    for row, posts in zip(rows, postings, strict=True):
        pos += 1
        row["chain_pos"], row["prev_hash"] = pos, prev
        row["entry_hash"] = prev = entry_hash(row, posts)
    session.execute(_MOVE_HEAD, {"new_position": pos, "new_digest": prev})


def new_row(
    *,
    kind: str,
    description: str,
    effective_at: datetime,
    created_at: datetime,
    created_by: str | None = None,
    weighin_id: int | None = None,
    reverses_entry_id: int | None = None,
) -> dict[str, Any]:
    """A journal entry row as :func:`link` and the INSERT want it."""
    return {
        "kind": kind,
        "description": description[:300],
        "effective_at": effective_at,
        "created_at": created_at,
        "created_by": created_by,
        "weighin_id": weighin_id,
        "reverses_entry_id": reverses_entry_id,
    }
