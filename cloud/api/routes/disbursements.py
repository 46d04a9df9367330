"""Payouts by bank transfer file or payment provider; the cash slip of a payout."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cloud import disbursement as disb
from cloud.api.deps import (
    Admin,
    Counter,
    CounterReader,
    ProgrammeReader,
    SessionDep,
    StateDep,
    SystemSessionDep,
)
from cloud.api.errors import ApiError, error_responses
from cloud.api.paging import Page, PageQuery, paginate
from cloud.api.schemas import DbId, PayoutOut
from cloud.disbursement.providers import HttpProvider, ProviderError, verify_signature
from cloud.models import Household, Site
from cloud.models.disbursement import Disbursement
from cloud.models.money import Payout

router = APIRouter(prefix="/api/v1", tags=["payouts"])


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["bank", "ewallet", "bill"]
    provider: Annotated[str, Field(min_length=2, max_length=40)]
    account: Annotated[str, Field(min_length=5, max_length=64)]
    account_name: Annotated[str, Field(max_length=200)] | None = None


class DisbursementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    payout_id: int
    method: str
    provider: str
    account: str
    account_name: str | None
    status: str
    batch_id: int | None
    provider_ref: str | None
    created_by: str
    sent_by: str | None
    sent_at: datetime | None
    settled_at: datetime | None
    failure: str | None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disbursement_ids: Annotated[list[DbId], Field(min_length=1, max_length=5000)]
    on: date


class BatchOut(BaseModel):
    batch_id: int
    file_sha256: str
    transfers: int
    file_url: str


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: disbursement id -> the bank's reason for returning it
    failed: dict[str, Annotated[str, Field(max_length=300)]] = Field(default_factory=dict)


class SlipOut(BaseModel):
    payout: PayoutOut
    member_no: str
    name: str
    site: str | None
    method: str


@router.post(
    "/payouts/{payout_id}/destination",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Pay this payout by bank transfer, e-wallet or bill instead of cash",
)
def set_destination(
    payout_id: DbId, body: DestinationIn, principal: Counter, session: SessionDep
) -> DisbursementOut:
    d = disb.attach(
        session,
        payout_id=payout_id,
        method=body.method,
        provider=body.provider,
        account=body.account,
        account_name=body.account_name,
        by=principal.label,
    )
    session.commit()
    return DisbursementOut.model_validate(d)


@router.get("/disbursements", responses=error_responses(401, 403, 422), summary="Transfers")
def list_disbursements(
    _: CounterReader,
    session: SessionDep,
    page: PageQuery,
    status: Annotated[str | None, Query(pattern="^(pending|sent|succeeded|failed)$")] = None,
    method: Annotated[str | None, Query(pattern="^(bank|ewallet|bill)$")] = None,
) -> Page[DisbursementOut]:
    stmt = (
        select(Disbursement)
        .join(Payout, Payout.id == Disbursement.payout_id)
        .order_by(Disbursement.id.desc())
    )
    if status is not None:
        stmt = stmt.where(Disbursement.status == status)
    if method is not None:
        stmt = stmt.where(Disbursement.method == method)
    rows, total = paginate(session, stmt, page)
    return Page(
        items=[DisbursementOut.model_validate(d) for d in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/disbursements/{disbursement_id}/send",
    responses=error_responses(401, 403, 404, 409, 503),
    summary="Send an approved e-wallet or bill payout to the provider (safe to retry)",
)
def send(
    disbursement_id: DbId, principal: Counter, session: SessionDep, state: StateDep
) -> DisbursementOut:
    if session.get(Disbursement, disbursement_id) is None:  # within the caller's reach
        raise ApiError(404, "not-found", f"no disbursement {disbursement_id}")
    cfg = state.settings.disbursement
    if not cfg.provider_url:
        raise ApiError(503, "no-provider", "no payment provider is configured")
    req = disb.mark_sent(
        session, disbursement_id=disbursement_id, by=principal.label, callback_url=cfg.callback_url
    )
    session.commit()  # "sent" is on record before the provider hears of it
    provider = HttpProvider(cfg.provider_url, cfg.provider_key.get_secret_value())
    try:
        answer = provider.send(req)
    except ProviderError as exc:
        raise ApiError(503, "provider-unavailable", f"{exc}: send again (same key)") from None
    finally:
        provider.close()
    d = session.get(Disbursement, disbursement_id)
    assert d is not None
    if d.provider_ref is None:
        d.provider_ref = answer.provider_ref
    if answer.status != "pending":
        disb.settle(
            session, reference=req.reference, status=answer.status, provider_ref=answer.provider_ref
        )
    session.commit()
    return DisbursementOut.model_validate(d)


async def raw_body(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > 10_000:
        raise ApiError(422, "validation", "callback body too large")
    return raw


#: the provider's callback comes before any login: a session without a caller
ProviderSession = SystemSessionDep


class CallbackIn(BaseModel):
    reference: Annotated[str, Field(max_length=40)]
    id: Annotated[str, Field(max_length=120)] | None = None
    status: Literal["pending", "succeeded", "failed"]
    failure: Annotated[str, Field(max_length=300)] | None = None


@router.post(
    "/disbursements/callback",
    status_code=204,
    responses=error_responses(401, 404, 409, 422),
    summary="The provider's signed outcome of a transfer (X-Signature: HMAC-SHA256 of the body)",
)
def provider_callback(
    raw: Annotated[bytes, Depends(raw_body)],
    request: Request,
    session: ProviderSession,
    state: StateDep,
) -> Response:
    secret = state.settings.disbursement.callback_secret.get_secret_value()
    if not verify_signature(secret, raw, request.headers.get("x-signature")):
        raise ApiError(401, "bad-signature", "the callback's signature does not match")
    body = CallbackIn.model_validate_json(raw)
    disb.settle(
        session,
        reference=body.reference,
        status=body.status,
        provider_ref=body.id,
        failure=body.failure,
    )
    session.commit()
    return Response(status_code=204)


@router.post(
    "/disbursements/bank-batches",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Approved bank transfers into one transfer file (Mandiri MCM bulk CSV)",
)
def make_batch(
    body: BatchIn, principal: Admin, session: SessionDep, state: StateDep, request: Request
) -> BatchOut:
    account = state.settings.disbursement.debit_account
    if not account:
        raise ApiError(409, "conflict", "no debit account configured ([api.disbursement])")
    made = disb.bank_batch(
        session,
        disbursement_ids=body.disbursement_ids,
        debit_account=account,
        on=body.on,
        by=principal.label,
    )
    session.commit()
    url = str(request.url_for("batch_file", batch_id=made.batch.id)) + f"?on={body.on}"
    return BatchOut(
        batch_id=made.batch.id,
        file_sha256=made.batch.file_sha256,
        transfers=len(body.disbursement_ids),
        file_url=url,
    )


@router.get(
    "/disbursements/bank-batches/{batch_id}/file",
    name="batch_file",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404, 409)},
    summary="The batch's transfer file, to upload at the bank",
)
def batch_file(
    batch_id: DbId,
    on: Annotated[date, Query()],
    _: ProgrammeReader,
    session: SessionDep,
    state: StateDep,
) -> Response:
    account = state.settings.disbursement.debit_account
    content = disb.batch_file(session, batch_id=batch_id, debit_account=account, on=on)
    disposition = f'attachment; filename="mcm-{batch_id}.csv"'
    return Response(content, media_type="text/csv", headers={"Content-Disposition": disposition})


@router.post(
    "/disbursements/bank-batches/{batch_id}/settle",
    responses=error_responses(401, 403, 404, 409),
    summary="The bank executed the file: pay all but the transfers it returned",
)
def settle_batch(
    batch_id: DbId, body: SettleIn, principal: Admin, session: SessionDep
) -> dict[str, int]:
    try:
        failed = {int(k): v for k, v in body.failed.items()}
    except ValueError:
        raise ApiError(422, "validation", "failed: disbursement ids as keys") from None
    disb.settle_batch(session, batch_id=batch_id, failed=failed, by=principal.label)
    session.commit()
    return {"batch_id": batch_id, "failed": len(failed)}


@router.get(
    "/payouts/{payout_id}/slip",
    responses=error_responses(401, 403, 404),
    summary="What the printed cash slip of a payout shows",
)
def payout_slip(payout_id: DbId, _: CounterReader, session: SessionDep) -> SlipOut:
    row = session.execute(
        select(Payout, Household.member_no, Household.name, Site.name)
        .join(Household, Household.id == Payout.household_id)
        .outerjoin(Site, Site.id == Household.site_id)
        .where(Payout.id == payout_id)
    ).first()
    if row is None:
        raise ApiError(404, "not-found", "no such payout")
    p, member_no, name, site = row
    method = session.scalar(select(Disbursement.method).where(Disbursement.payout_id == p.id))
    return SlipOut(
        payout=PayoutOut.model_validate(p),
        member_no=member_no,
        name=name,
        site=site,
        method=method or "cash",
    )
