"""``salinmas audit``: prove from the database alone that nothing was rewritten.

Checks, reading everything (never writing):

- **the journal's chain** (:mod:`cloud.ledger_chain`): positions 1..N without a hole,
  each ``prev_hash`` the hash of the entry before, each ``entry_hash`` recomputed from
  the entry and its postings, every entry balanced, the head row at the last entry;
- **each station key's weigh-in chain**: every signed weigh-in row rebuilt from its
  columns (:func:`cloud.verification.weighin_of`) still verifies under its station's
  key, its ``record_hash`` is what the record hashes to, and it links to the key's
  record one position lower; every other weigh-in still hashes to its ``record_hash``
  (taken when it arrived);
- **weigh-ins against the ledger**: a credited weigh-in's credit entry posts exactly
  its amount.

A break in a weigh-in that ingest *held* for that very reason (a record altered before
it arrived, a gap, a fork) is expected — the hold is the system working — and is
counted, not reported as a break. Anything else is a break: the first is what to look
at (``salinmas audit`` prints it; exit status 1).

Against someone who can rewrite the whole database — every hash from a point on —
only an anchor outside it helps: the report ends with the journal's head (position and
hash); write it down, and the next audit checks that entry is still there unchanged
(``--head POS:HASH``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.db import chunks
from cloud.integrity import signature_valid
from cloud.ledger_chain import GENESIS_HASH, entry_hash
from cloud.models import Hold, JournalEntry, LedgerChainHead, Posting, WeighinRecord
from cloud.verification import weighin_of
from contract.signing import record_hash

#: rows read per query
PAGE = 2000

_ENTRY_COLUMNS = (
    "chain_pos",
    "prev_hash",
    "kind",
    "created_at",
    "effective_at",
    "description",
    "created_by",
    "weighin_id",
    "reverses_entry_id",
)
#: breaks a hold of this kind explains (ingest saw it and held the weigh-in)
_EXPLAINED = {
    "signature": {"signature", "key"},
    "hash": {"signature", "key"},
    "gap": {"chain_gap"},
    "fork": {"chain_fork", "key", "signature"},
}


@dataclass(frozen=True, slots=True)
class Break:
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass
class AuditReport:
    entries: int = 0
    head_pos: int = 0
    head_hash: str = GENESIS_HASH
    weighins: int = 0
    signed: int = 0
    keys: int = 0
    explained: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def lines(self) -> list[str]:
        out = [
            f"journal: {self.entries} entries chained; head {self.head_pos}:{self.head_hash}",
            f"weigh-ins: {self.weighins} ({self.signed} signed, under {self.keys} station keys);"
            f" {self.explained} known breaks, each held by ingest when it arrived",
        ]
        if self.breaks:
            out.append(f"FIRST BREAK: {self.breaks[0]}")
            if len(self.breaks) > 1:
                out.append(f"({len(self.breaks) - 1} more breaks after it)")
        else:
            out.append("no break: nothing was rewritten")
        return out


def audit(session: Session, *, head: tuple[int, str] | None = None) -> AuditReport:
    """Walk both chains and the weigh-ins' credits (see the module docs)."""
    report = AuditReport()
    _journal(session, report, head)
    _weighins(session, report)
    _credits(session, report)
    return report


# --------------------------------------------------------------------------- journal


_Row = TypeVar("_Row", JournalEntry, WeighinRecord)


def _pages(session: Session, model: type[_Row]) -> Iterator[list[_Row]]:
    """Every row of ``model`` in id order, a page at a time (memory stays flat)."""
    last = 0
    while True:
        page = list(
            session.scalars(select(model).where(model.id > last).order_by(model.id).limit(PAGE))
        )
        if not page:
            return
        yield page
        last = page[-1].id
        session.expunge_all()


def _entries(session: Session) -> Iterator[tuple[JournalEntry, list[tuple[int, int]]]]:
    for page in _pages(session, JournalEntry):
        postings: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for chunk in chunks(e.id for e in page):
            for entry_id, account_id, amount in session.execute(
                select(Posting.entry_id, Posting.account_id, Posting.amount_rp).where(
                    Posting.entry_id.in_(chunk)
                )
            ):
                postings[entry_id].append((account_id, amount))
        for e in page:
            yield e, postings[e.id]


def _journal(session: Session, report: AuditReport, head: tuple[int, str] | None) -> None:
    by_pos: dict[int, tuple[str | None, str | None, int]] = {}
    found: list[tuple[int, Break]] = []  # (position, break): reported in chain order
    for entry, posts in _entries(session):
        report.entries += 1
        where = f"journal entry {entry.id}"
        if entry.chain_pos is None:
            found.append((0, Break(where, "not in the chain (no chain_pos)")))
            continue
        if sum(a for _, a in posts) != 0 or len(posts) < 2:
            found.append((entry.chain_pos, Break(where, "its postings do not balance")))
        row = {c: getattr(entry, c) for c in _ENTRY_COLUMNS}
        if entry_hash(row, posts) != entry.entry_hash:
            found.append(
                (
                    entry.chain_pos,
                    Break(where, f"at position {entry.chain_pos}: entry or postings changed"),
                )
            )
        by_pos[entry.chain_pos] = (entry.prev_hash, entry.entry_hash, entry.id)
    prev = GENESIS_HASH
    for pos in range(1, max(by_pos, default=0) + 1):
        at = by_pos.get(pos)
        if at is None:
            found.append((pos, Break(f"journal position {pos}", "missing (deleted?)")))
            prev = ""
            continue
        prev_hash, digest, entry_id = at
        if prev and prev_hash != prev:
            found.append(
                (
                    pos,
                    Break(f"journal entry {entry_id}", f"at position {pos}: prev_hash breaks"),
                )
            )
        prev = digest or ""
    report.breaks += [b for _, b in sorted(found, key=lambda p: p[0])]
    stored = session.execute(select(LedgerChainHead.position, LedgerChainHead.digest)).first()
    if by_pos:
        top = max(by_pos)
        report.head_pos, report.head_hash = top, by_pos[top][1] or ""
        if stored is None or (int(stored[0]), str(stored[1])) != (top, report.head_hash):
            report.breaks.append(Break("journal head", "does not point at the last entry"))
    if head is not None:
        pos, digest = head
        if by_pos.get(pos, (None, None, 0))[1] != digest:
            report.breaks.append(Break(f"journal position {pos}", "not the head recorded then"))


# --------------------------------------------------------------------------- weigh-ins


def _weighins(session: Session, report: AuditReport) -> None:
    holds: dict[int, str] = {w: k for w, k in session.execute(select(Hold.weighin_id, Hold.kind))}
    chains: dict[tuple[str, str], dict[int, list[tuple[str | None, str, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    breaks: list[tuple[int, Break]] = []

    def flag(rec: WeighinRecord, what: str, detail: str) -> None:
        if holds.get(rec.id) in _EXPLAINED[what]:
            report.explained += 1
        else:
            breaks.append((rec.id, Break(f"weigh-in {rec.id} ({rec.event_id})", detail)))

    for page in _pages(session, WeighinRecord):
        for rec in page:
            report.weighins += 1
            record = weighin_of(rec)
            signed = rec.signature is not None and rec.public_key is not None
            if signed and not signature_valid(record):
                flag(rec, "signature", "the station's signature no longer verifies")
            elif rec.record_hash is not None and record_hash(record) != rec.record_hash:
                flag(rec, "hash", "its columns no longer hash to the record received")
            if signed:
                report.signed += 1
                if rec.chain_pos is not None and rec.public_key is not None:
                    chains[(rec.public_key, rec.device_id)][rec.chain_pos].append(
                        (rec.prev_hash, rec.record_hash or "", rec.id)
                    )
    report.keys = len({k for k, _ in chains})
    for positions in chains.values():
        for pos in sorted(positions):
            rows = positions[pos]
            if len(rows) > 1:
                for _, _, wid in rows[1:]:
                    _chain_flag(
                        session, report, breaks, holds, wid, "fork", f"position {pos} twice"
                    )
            prev_hash, _, wid = rows[0]
            if pos == 1:
                if prev_hash != GENESIS_HASH:
                    _chain_flag(session, report, breaks, holds, wid, "fork", "bad genesis")
                continue
            before = positions.get(pos - 1)
            if not before:
                _chain_flag(
                    session, report, breaks, holds, wid, "gap", f"record {pos - 1} is missing"
                )
            elif before[0][1] != prev_hash and holds.get(before[0][2]) not in ("signature",):
                _chain_flag(
                    session, report, breaks, holds, wid, "fork", f"does not link to {pos - 1}"
                )
    report.breaks += [b for _, b in sorted(breaks, key=lambda p: p[0])]


def _chain_flag(
    session: Session,
    report: AuditReport,
    breaks: list[tuple[int, Break]],
    holds: dict[int, str],
    weighin_id: int,
    what: str,
    detail: str,
) -> None:
    if holds.get(weighin_id) in _EXPLAINED[what]:
        report.explained += 1
        return
    event_id = session.scalar(select(WeighinRecord.event_id).where(WeighinRecord.id == weighin_id))
    breaks.append((weighin_id, Break(f"weigh-in {weighin_id} ({event_id})", f"chain: {detail}")))


def _credits(session: Session, report: AuditReport) -> None:
    """A credited weigh-in's entry posts exactly its amount to the household."""
    W, P = WeighinRecord, Posting
    rows = session.execute(
        select(W.id, W.event_id, W.amount_rp, func.max(P.amount_rp))
        .join(P, P.entry_id == W.entry_id)
        .where(W.entry_id.is_not(None))
        .group_by(W.id, W.event_id, W.amount_rp)
    )
    for wid, event_id, amount, debit in rows:
        if debit != amount:
            report.breaks.append(
                Break(
                    f"weigh-in {wid} ({event_id})",
                    f"credited Rp {amount} but its entry posts Rp {debit}",
                )
            )


def main(url: str, *, head: tuple[int, str] | None = None) -> int:
    """``salinmas audit --url URL``: print the report; 1 if there is a break."""
    from cloud.db import make_engine, session_factory

    engine = make_engine(url, write=False)
    try:
        with session_factory(engine)() as session:
            report = audit(session, head=head)
    finally:
        engine.dispose()
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
