"""Cases: a scan turns rule hits into cases, idempotently; an operator decides each one.

A hit is (rule, subject, local day). :func:`apply_hits` files it:

* a case of the same rule and subject that already covers the day takes it as known
  (so re-running a scan over the same days raises nothing new);
* a case of the same rule and subject whose days end (or start) within
  :data:`MERGE_DAYS` of it absorbs it — a rigged scale flagged on seven running days is
  one case, not seven, and a case dismissed as harmless is not raised again tomorrow
  for the same ongoing pattern;
* anything else opens a new case.

The unique ``(rule, subject, first_day)`` lets only one of two concurrent scans open a
given case; run the scan through :func:`cloud.db.commit_retrying`.

Deciding: :func:`dismiss_case` (with a note) or :func:`confirm_case`, which for a case
against a household puts a :class:`~cloud.models.fraud.PayoutHold` on it, under the
household's account lock (the lock order of :mod:`cloud.postings`). Nothing else is
automatic. Functions flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import chunks
from cloud.errors import LedgerError, NotFound
from cloud.fraud.detectors import DETECTORS, Hit
from cloud.fraud.rules import ensure_rules, params_of
from cloud.models import utcnow
from cloud.models.fraud import FraudCase, PayoutHold
from cloud.postings import lock_household_account

#: a case absorbs hits on its rule and subject this many days after its last day
MERGE_DAYS = 7
#: the days a scan looks at by default (a month and a bit: late data is still judged)
DEFAULT_SCAN_DAYS = 35


@dataclass(slots=True)
class ScanResult:
    first: date
    last: date
    hits: int = 0
    raised: int = 0
    extended: int = 0
    known: int = 0
    raised_by_rule: dict[str, int] = field(default_factory=dict)


def scan(
    session: Session,
    *,
    first: date,
    last: date,
    tz: ZoneInfo,
    rules: Iterable[str] | None = None,
) -> ScanResult:
    """Run every enabled rule (or those named) over local days ``first..last``; file hits."""
    if last < first:
        raise LedgerError("the scan must end on or after its first day")
    wanted = set(rules) if rules is not None else None
    hits: list[Hit] = []
    for code, rule in sorted(ensure_rules(session).items()):
        if rule.enabled and code in DETECTORS and (wanted is None or code in wanted):
            hits.extend(DETECTORS[code](session, params_of(rule), first, last, tz))
    result = apply_hits(session, hits)
    result.first, result.last = first, last
    return result


def apply_hits(session: Session, hits: Sequence[Hit]) -> ScanResult:
    """File ``hits`` as cases (see the module docstring); returns what happened."""
    result = ScanResult(date.min, date.max, hits=len(hits))
    cases: dict[tuple[str, str, str], list[FraudCase]] = defaultdict(list)
    by_rule: dict[tuple[str, str], set[str]] = defaultdict(set)
    for h in hits:
        by_rule[h.rule, h.subject_kind].add(h.subject_key)
    for (rule, kind), keys in by_rule.items():
        for chunk in chunks(keys):
            for c in session.scalars(
                select(FraudCase).where(
                    FraudCase.rule_code == rule,
                    FraudCase.subject_kind == kind,
                    FraudCase.subject_key.in_(chunk),
                )
            ):
                cases[rule, kind, c.subject_key].append(c)
    merge = timedelta(days=MERGE_DAYS)
    for h in sorted(hits, key=lambda h: (h.rule, h.subject_kind, h.subject_key, h.day)):
        mine = cases[h.rule, h.subject_kind, h.subject_key]
        if any(c.first_day <= h.day <= c.last_day for c in mine):
            result.known += 1
            continue
        near = [
            c
            for c in mine
            if c.last_day < h.day <= c.last_day + merge
            or c.first_day - merge <= h.day < c.first_day
        ]
        if near:
            c = min(
                near,
                key=lambda c: min(abs((h.day - c.last_day).days), abs((c.first_day - h.day).days)),
            )
            c.first_day, c.last_day = min(c.first_day, h.day), max(c.last_day, h.day)
            c.hits += 1
            if h.day >= c.last_day:  # the latest figures describe the case
                c.figures, c.summary = dict(h.figures), h.summary[:300]
            result.extended += 1
            continue
        c = FraudCase(
            rule_code=h.rule,
            subject_kind=h.subject_kind,
            subject_key=h.subject_key[:80],
            household_id=h.household_id,
            site_id=h.site_id,
            first_day=h.day,
            last_day=h.day,
            hits=1,
            figures=dict(h.figures),
            summary=h.summary[:300],
            status="open",
        )
        session.add(c)
        mine.append(c)
        result.raised += 1
        result.raised_by_rule[h.rule] = result.raised_by_rule.get(h.rule, 0) + 1
    session.flush()
    return result


# --------------------------------------------------------------------------- decisions


def _open_case(session: Session, case_id: int) -> FraudCase:
    c = session.scalar(select(FraudCase).where(FraudCase.id == case_id).with_for_update())
    if c is None:
        raise NotFound(f"unknown fraud case {case_id}")
    if c.status != "open":
        raise LedgerError(f"case {case_id} is {c.status} already")
    return c


def _note(note: str) -> str:
    note = note.strip()
    if len(note) < 3:
        raise LedgerError("a decision needs a note (at least 3 characters)")
    return note[:300]


def dismiss_case(session: Session, *, case_id: int, note: str, by: str) -> FraudCase:
    """Close a case as harmless, saying why."""
    text = _note(note)
    c = _open_case(session, case_id)
    c.status, c.decided_at, c.decided_by, c.note = "dismissed", utcnow(), by, text
    session.flush()
    return c


def confirm_case(session: Session, *, case_id: int, note: str, by: str) -> FraudCase:
    """Confirm a case; against a household, hold its payouts (:mod:`cloud.fraud.holds`)."""
    text = _note(note)
    c = _open_case(session, case_id)
    c.status, c.decided_at, c.decided_by, c.note = "confirmed", utcnow(), by, text
    if c.household_id is not None:
        lock_household_account(session, household_id=c.household_id)
        session.add(PayoutHold(household_id=c.household_id, case_id=c.id, held_by=by))
    session.flush()
    return c


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    site_id: int | None = None,
    rule: str | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[FraudCase]:
    """Cases, newest first."""
    q = select(FraudCase).order_by(FraudCase.id.desc()).limit(limit)
    for col, value in (
        (FraudCase.status, status),
        (FraudCase.site_id, site_id),
        (FraudCase.rule_code, rule),
    ):
        if value is not None:
            q = q.where(col == value)
    if before_id is not None:
        q = q.where(FraudCase.id < before_id)
    return list(session.scalars(q))
