"""Fraud cases for an operator to review; the rules (data); payout holds; opening hours.

Operators of a site review its cases (dismiss with a note, or confirm: a case against a
household then holds its payouts); administrators change rules, release holds, set
opening hours and may run a scan now (``salinmas fraud scan`` is the scheduled one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cloud.api.csvfile import CSV, csv_response
from cloud.api.deps import Admin, BeforeId, Limit, Operator, SessionDep, SiteReader, StateDep
from cloud.api.errors import ApiError, error_responses
from cloud.api.idempotency import IdempotencyKey, idempotent
from cloud.api.routes.stock import SiteQ, site_in_reach
from cloud.api.schemas import DbId
from cloud.api.stock_schemas import (
    CaseDecision,
    CaseOut,
    HoldOut,
    OpeningDay,
    OpeningHoursOut,
    OpeningHoursSet,
    RuleOut,
    RuleUpdate,
    ScanOut,
    ScanRequest,
)
from cloud.fraud import cases, holds, hours, rules
from cloud.models.fraud import CASE_STATES, FraudCase, FraudRule, PayoutHold

router = APIRouter(prefix="/api/v1", tags=["fraud cases"])

READ = error_responses(401, 403, 404, 422)
WRITE = error_responses(401, 403, 404, 409, 422)
RuleCode = Annotated[str, Path(pattern=r"^[a-z_]{1,40}$", description="the rule's code")]


def _explained(session: SessionDep, found: list[FraudCase]) -> list[CaseOut]:
    by_code = {r.code: r for r in session.scalars(select(FraudRule))}
    out = []
    for c in found:
        o = CaseOut.model_validate(c)
        r = by_code.get(c.rule_code)
        if r is not None:
            p = rules.params_of(r)
            o.explanation_id, o.explanation_en = (
                rules.explain(r.explanation_id, p),
                rules.explain(r.explanation_en, p),
            )
        out.append(o)
    return out


def _rule_out(r: FraudRule) -> RuleOut:
    p = rules.params_of(r)
    return RuleOut(
        code=r.code,
        enabled=r.enabled,
        params=p,
        explanation_id=rules.explain(r.explanation_id, p),
        explanation_en=rules.explain(r.explanation_en, p),
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


# --------------------------------------------------------------------------- cases


@router.get("/cases", responses=READ, summary="Fraud cases, newest first")
def list_cases(
    principal: SiteReader,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(CASE_STATES) + ")$")] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    site_id: SiteQ = None,
    before_id: BeforeId = None,
    limit: Limit = 200,
) -> list[CaseOut]:
    found = cases.list_cases(
        session,
        status=status,
        rule=rule,
        site_id=site_in_reach(principal, site_id),
        limit=limit,
        before_id=before_id,
    )
    return _explained(session, found)


@router.post(
    "/cases/{case_id}/{decision}",
    responses=WRITE,
    response_model=CaseOut,
    summary="Decide a case: dismiss it as harmless, or confirm it (a household's payouts "
    "are then held); with a note",
)
def decide(
    case_id: DbId,
    decision: Annotated[Literal["dismiss", "confirm"], Path(description="dismiss | confirm")],
    body: CaseDecision,
    principal: Operator,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    found = session.get(FraudCase, case_id)
    if found is None:
        raise ApiError(404, "not-found", "no such case", title="Not found")
    if found.site_id is not None:
        site_in_reach(principal, found.site_id)  # another site's case: 404

    def act() -> CaseOut:
        by = cases.confirm_case if decision == "confirm" else cases.dismiss_case
        return _explained(
            session, [by(session, case_id=case_id, note=body.note, by=principal.label)]
        )[0]

    return idempotent(session, request, principal, key, body, act)


@router.get(
    "/reports/cases.csv",
    response_class=StreamingResponse,
    responses={**CSV, **READ},
    summary="Fraud cases as CSV",
)
def cases_csv(
    principal: SiteReader, session: SessionDep, site_id: SiteQ = None
) -> StreamingResponse:
    found = list_cases(principal, session, site_id=site_id, limit=1000)

    def gen() -> Iterator[list[object]]:
        for c in found:
            yield [
                c.id,
                c.rule_code,
                c.subject_kind,
                c.subject_key,
                c.household_id or "",
                c.site_id or "",
                c.first_day.isoformat(),
                c.last_day.isoformat(),
                c.hits,
                c.status,
                c.summary,
                c.raised_at.isoformat(),
                c.decided_by or "",
                c.note or "",
                c.explanation_en,
            ]

    header = [
        "id",
        "rule",
        "subject_kind",
        "subject",
        "household_id",
        "site_id",
        "first_day",
        "last_day",
        "hits",
        "status",
        "summary",
        "raised_at_utc",
        "decided_by",
        "note",
        "rule_explanation",
    ]
    return csv_response(header, gen(), "cases.csv")


# --------------------------------------------------------------------------- rules and scans


@router.get("/fraud-rules", responses=READ, summary="The fraud rules: thresholds and explanations")
def list_rules(_: SiteReader, session: SessionDep) -> list[RuleOut]:
    return [_rule_out(r) for _, r in sorted(rules.ensure_rules(session).items())]


@router.put(
    "/fraud-rules/{rule}", responses=WRITE, summary="Change a rule's thresholds or switch it"
)
def put_rule(rule: RuleCode, body: RuleUpdate, principal: Admin, session: SessionDep) -> RuleOut:
    if rule not in rules.BY_CODE:
        raise ApiError(404, "not-found", f"no fraud rule {rule!r}", title="Not found")
    r = rules.update_rule(
        session, code=rule, params=body.params, enabled=body.enabled, by=principal.label
    )
    session.commit()
    return _rule_out(r)


@router.post("/fraud/scan", responses=WRITE, summary="Run the fraud rules now (idempotent)")
def run_scan(body: ScanRequest, _: Admin, session: SessionDep, state: StateDep) -> ScanOut:
    tz = state.settings.zone
    last = body.last or datetime.now(tz).date()
    first = body.first or last - timedelta(days=cases.DEFAULT_SCAN_DAYS - 1)
    if last < first or (last - first).days > 366:
        raise ApiError(422, "validation", "need first <= last, at most 366 days apart")
    result = cases.scan(session, first=first, last=last, tz=tz)
    session.commit()
    return ScanOut(
        first=first,
        last=last,
        hits=result.hits,
        raised=result.raised,
        extended=result.extended,
        known=result.known,
        raised_by_rule=result.raised_by_rule,
    )


# --------------------------------------------------------------------------- holds


@router.get("/payout-holds", responses=READ, summary="Payout holds (active first)")
def list_holds(_: SiteReader, session: SessionDep, limit: Limit = 200) -> list[HoldOut]:
    q = (
        select(PayoutHold)
        .order_by(PayoutHold.released_at.is_not(None), PayoutHold.id.desc())
        .limit(limit)
    )
    return [HoldOut.model_validate(h) for h in session.scalars(q)]


@router.post(
    "/payout-holds/{hold_id}/release",
    responses=WRITE,
    response_model=HoldOut,
    summary="Release a payout hold (administrators, with a note)",
)
def release(
    hold_id: DbId,
    body: CaseDecision,
    principal: Admin,
    key: IdempotencyKey,
    request: Request,
    session: SessionDep,
) -> Response:
    def act() -> HoldOut:
        return HoldOut.model_validate(
            holds.release_hold(session, hold_id=hold_id, note=body.note, by=principal.label)
        )

    return idempotent(session, request, principal, key, body, act)


# --------------------------------------------------------------------------- opening hours


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hm: str) -> int:
    h, m = hm.split(":")
    return int(h) * 60 + int(m)


@router.get("/opening-hours", responses=READ, summary="A site's opening hours")
def get_hours(
    principal: SiteReader, session: SessionDep, site_id: SiteQ = None
) -> list[OpeningHoursOut]:
    from cloud.models import Site

    site = site_in_reach(principal, site_id)
    ids = [site] if site is not None else list(session.scalars(select(Site.id).order_by(Site.id)))
    return [
        OpeningHoursOut(
            site_id=s,
            days=[
                OpeningDay(weekday=d, opens=_hm(o), closes=_hm(c))
                for d, o, c in hours.opening_hours(session, site_id=s)
            ],
        )
        for s in ids
    ]


@router.put(
    "/opening-hours", responses=WRITE, summary="Set a site's opening hours (administrators)"
)
def put_hours(body: OpeningHoursSet, _: Admin, session: SessionDep) -> OpeningHoursOut:
    days = [(d.weekday, _minutes(d.opens), _minutes(d.closes)) for d in body.days]
    saved = hours.set_opening_hours(session, site_id=body.site_id, days=days)
    session.commit()
    return OpeningHoursOut(
        site_id=body.site_id,
        days=[OpeningDay(weekday=d, opens=_hm(o), closes=_hm(c)) for d, o, c in saved],
    )
