"""Payouts that leave by bank transfer file or through a payment provider.

The payout itself keeps its life (:mod:`cloud.payouts`: requested -> approved -> paid,
the two-person rule and the balance checks live there). A :class:`Disbursement` says
where an approved payout's money goes; the payout is **paid** (posted, with
``cash=False``: not from a cash box) only once the transfer is confirmed, and
**rejected** (its hold released) when it fails. So a household's money never leaves
beyond its balance (the hold was checked at request and approval, and the pay step
checks again under the account lock) and never twice (one disbursement per payout, one
idempotency key per disbursement, settlement only from ``sent``).

* bank: :func:`bank_batch` marks approved bank disbursements ``sent`` and writes the
  transfer file (:mod:`.bank_file`); after the bank executed it, :func:`settle_batch`
  pays the ones that went through and rejects the ones the bank returned.
* e-wallet / bill: :func:`mark_sent` (committed *before* the provider is called), then
  the provider (:mod:`.providers`) with the disbursement's idempotency key; the outcome
  arrives by :func:`settle` (the provider's signed callback, or the immediate answer).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import audit, payouts
from cloud.disbursement.bank_file import BANKS, Transfer, mandiri_mcm
from cloud.disbursement.providers import BILLERS, EWALLETS, TransferRequest
from cloud.errors import LedgerError, NotFound
from cloud.fraud.holds import refuse_if_held
from cloud.models import Household, utcnow
from cloud.models.disbursement import Disbursement, DisbursementBatch
from cloud.models.money import HELD_PAYOUT_STATES, Payout
from cloud.notifications.phone import InvalidPhone, normalise_phone
from cloud.postings import lock_household_account


class DisbursementError(LedgerError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _site(session: Session, payout: Payout) -> int | None:
    return session.scalar(select(Household.site_id).where(Household.id == payout.household_id))


def attach(
    session: Session,
    *,
    payout_id: int,
    method: str,
    provider: str,
    account: str,
    account_name: str | None,
    by: str,
) -> Disbursement:
    """Say where a held payout goes (bank account, e-wallet, biller). Once per payout."""
    p = session.get(Payout, payout_id)
    if p is None:
        raise NotFound(f"unknown payout {payout_id}")
    if p.status not in HELD_PAYOUT_STATES:
        raise DisbursementError(f"payout {payout_id} is {p.status}")
    if session.scalar(select(Disbursement.id).where(Disbursement.payout_id == payout_id)):
        raise DisbursementError(f"payout {payout_id} already has a destination")
    account = account.strip()
    if method == "bank":
        if provider not in BANKS:
            raise DisbursementError(f"unknown bank code {provider!r}", field="provider")
        if not re.fullmatch(r"\d{5,35}", account):
            raise DisbursementError("a bank account number is 5-35 digits", field="account")
        if not account_name or not account_name.strip():
            raise DisbursementError("the account holder's name is needed", field="account_name")
    elif method == "ewallet":
        if provider not in EWALLETS:
            raise DisbursementError(f"e-wallet is one of {', '.join(EWALLETS)}", field="provider")
        try:
            account = normalise_phone(account)
        except InvalidPhone as exc:
            raise DisbursementError(str(exc), field="account") from None
    elif method == "bill":
        if provider not in BILLERS:
            raise DisbursementError(f"biller is one of {', '.join(BILLERS)}", field="provider")
        if not re.fullmatch(r"\d{6,20}", account):
            raise DisbursementError("a customer number is 6-20 digits", field="account")
    else:
        raise DisbursementError("method is bank, ewallet or bill", field="method")
    d = Disbursement(
        payout_id=payout_id,
        method=method,
        provider=provider,
        account=account,
        account_name=(account_name or "").strip()[:200] or None,
        status="pending",
        idempotency_key=f"salinmas-payout-{payout_id}-{secrets.token_hex(8)}",
        created_by=by,
    )
    session.add(d)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="disbursement.create",
        subject=f"payout:{payout_id}",
        after={
            "method": method,
            "provider": provider,
            "account": account,
            "amount_rp": p.amount_rp,
        },
        site_id=_site(session, p),
    )
    return d


def _locked(session: Session, disbursement_id: int) -> Disbursement:
    d = session.scalar(
        select(Disbursement).where(Disbursement.id == disbursement_id).with_for_update()
    )
    if d is None:
        raise NotFound(f"unknown disbursement {disbursement_id}")
    return d


def mark_sent(
    session: Session, *, disbursement_id: int, by: str, callback_url: str
) -> TransferRequest:
    """Before calling the provider: the payout must be approved; ``sent`` from now on.

    Commit this first, then call the provider: a crash in between leaves a ``sent``
    disbursement that is sent again with the same key (the provider dedupes)."""
    d = _locked(session, disbursement_id)
    if d.method == "bank":
        raise DisbursementError("bank transfers go out in a transfer file (bank batch)")
    if d.status not in ("pending", "sent"):
        raise DisbursementError(f"disbursement {disbursement_id} is {d.status}")
    p = session.get(Payout, d.payout_id)
    assert p is not None
    if p.status != "approved":
        raise DisbursementError(f"payout {p.id} is {p.status}, not approved")
    first = d.status == "pending"
    if first:  # a confirmed fraud case holds the money before it leaves (cloud.fraud.holds)
        lock_household_account(session, household_id=p.household_id)
        refuse_if_held(session, household_id=p.household_id)
    d.status, d.sent_by, d.sent_at = "sent", d.sent_by or by, d.sent_at or utcnow()
    session.flush()
    if first:
        audit.record(
            session,
            actor=by,
            action="disbursement.send",
            subject=f"payout:{p.id}",
            before={"status": "pending"},
            after={"status": "sent", "provider": d.provider},
            site_id=_site(session, p),
        )
    return TransferRequest(
        reference=f"payout-{p.id}",
        idempotency_key=d.idempotency_key,
        kind=d.method,
        provider=d.provider,
        account=d.account,
        amount_rp=p.amount_rp,
        description=f"Salinmas payout #{p.id}",
        callback_url=callback_url,
    )


def settle(
    session: Session,
    *,
    reference: str,
    status: str,
    provider_ref: str | None = None,
    failure: str | None = None,
) -> Disbursement:
    """Apply a provider's outcome (callback or immediate answer): exactly once."""
    m = re.fullmatch(r"payout-(\d{1,10})", reference)
    d = (
        None
        if m is None
        else session.scalar(
            select(Disbursement).where(Disbursement.payout_id == int(m.group(1))).with_for_update()
        )
    )
    if d is None:
        raise NotFound(f"no disbursement for {reference!r}")
    if status == "pending" or d.status == status:
        return d  # nothing new (a repeated callback)
    if d.status != "sent" or status not in ("succeeded", "failed"):
        raise DisbursementError(f"disbursement of {reference} is {d.status}; cannot be {status}")
    payer = d.sent_by or d.created_by
    if status == "succeeded":
        payouts.pay_payout(
            session, payout_id=d.payout_id, by=payer, two_person_from_rp=None, cash=False
        )
    else:
        why = f"transfer failed: {failure or 'no reason given'}"
        payouts.reject_payout(session, payout_id=d.payout_id, by=payer, reason=why)
    d.status, d.settled_at, d.provider_ref = status, utcnow(), provider_ref or d.provider_ref
    d.failure = (failure or "")[:300] or None
    session.flush()
    return d


# --------------------------------------------------------------------------- bank batches


@dataclass(frozen=True, slots=True)
class BatchFile:
    batch: DisbursementBatch
    content: bytes


def _transfers(session: Session, rows: list[Disbursement]) -> list[Transfer]:
    out = []
    for d in rows:
        p = session.get(Payout, d.payout_id)
        assert p is not None
        out.append(
            Transfer(
                account=d.account,
                account_name=d.account_name or "",
                amount_rp=p.amount_rp,
                bank_code=d.provider,
                reference=f"payout-{p.id}",
                remark=f"Salinmas payout {p.id}",
            )
        )
    return out


def bank_batch(
    session: Session, *, disbursement_ids: list[int], debit_account: str, on: date, by: str
) -> BatchFile:
    """Approved bank disbursements into one transfer file; they are ``sent`` from now on."""
    rows = list(
        session.scalars(
            select(Disbursement)
            .where(Disbursement.id.in_(disbursement_ids))
            .order_by(Disbursement.id)
            .with_for_update()
        )
    )
    if not rows or len(rows) != len(set(disbursement_ids)):
        raise NotFound("unknown disbursement in the batch")
    for d in rows:
        p = session.get(Payout, d.payout_id)
        if d.method != "bank" or d.status != "pending" or p is None or p.status != "approved":
            raise DisbursementError(
                f"disbursement {d.id} is not an approved bank transfer waiting to be sent"
            )
        lock_household_account(session, household_id=p.household_id)
        refuse_if_held(session, household_id=p.household_id)  # before the money leaves
    try:
        content = mandiri_mcm(_transfers(session, rows), debit_account=debit_account, on=on)
    except ValueError as exc:
        raise DisbursementError(str(exc), field="debit_account") from None
    batch = DisbursementBatch(
        bank_format="mandiri-mcm",
        created_by=by,
        status="generated",
        file_sha256=hashlib.sha256(content).hexdigest(),
    )
    session.add(batch)
    session.flush()
    now = utcnow()
    for d in rows:
        d.status, d.batch_id, d.sent_by, d.sent_at = "sent", batch.id, by, now
    session.flush()
    audit.record(
        session,
        actor=by,
        action="disbursement.batch",
        subject=f"batch:{batch.id}",
        after={
            "disbursements": [d.id for d in rows],
            "file_sha256": batch.file_sha256,
            "total_rp": sum(t.amount_rp for t in _transfers(session, rows)),
        },
    )
    return BatchFile(batch, content)


def batch_file(session: Session, *, batch_id: int, debit_account: str, on: date) -> bytes:
    """The same file again (e.g. downloaded twice), checked against the one recorded."""
    batch = session.get(DisbursementBatch, batch_id)
    if batch is None:
        raise NotFound(f"unknown batch {batch_id}")
    rows = list(
        session.scalars(
            select(Disbursement).where(Disbursement.batch_id == batch_id).order_by(Disbursement.id)
        )
    )
    content = mandiri_mcm(_transfers(session, rows), debit_account=debit_account, on=on)
    if hashlib.sha256(content).hexdigest() != batch.file_sha256:
        raise DisbursementError("give the same debit account and date as when it was made")
    return content


def settle_batch(
    session: Session, *, batch_id: int, failed: dict[int, str], by: str
) -> DisbursementBatch:
    """The bank executed the file: pay every transfer except those it returned (``failed``)."""
    batch = session.scalar(
        select(DisbursementBatch).where(DisbursementBatch.id == batch_id).with_for_update()
    )
    if batch is None:
        raise NotFound(f"unknown batch {batch_id}")
    if batch.status != "generated":
        raise DisbursementError(f"batch {batch_id} is already settled")
    rows = list(
        session.scalars(
            select(Disbursement).where(Disbursement.batch_id == batch_id).order_by(Disbursement.id)
        )
    )
    unknown = set(failed) - {d.id for d in rows}
    if unknown:
        raise DisbursementError(f"disbursement {min(unknown)} is not in batch {batch_id}")
    now = utcnow()
    for d in rows:
        if d.id in failed:
            why = f"returned by the bank: {failed[d.id] or 'no reason'}"
            payouts.reject_payout(session, payout_id=d.payout_id, by=by, reason=why)
            d.status, d.failure = "failed", failed[d.id][:300] or "returned by the bank"
        else:
            payouts.pay_payout(
                session, payout_id=d.payout_id, by=by, two_person_from_rp=None, cash=False
            )
            d.status = "succeeded"
        d.settled_at = now
    batch.status, batch.settled_by, batch.settled_at = "settled", by, now
    session.flush()
    return batch
