"""The audit log, for the auditor and the administrator: filter, page, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from cloud import audit
from cloud.api.deps import ProgrammeReader, SessionDep
from cloud.api.errors import error_responses
from cloud.api.paging import Page, PageQuery
from cloud.api.schemas import Instant

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    site_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get(
    "/audit",
    responses=error_responses(401, 403, 422),
    summary="Operator actions: who, when, what, before and after (newest first)",
)
def audit_entries(
    _: ProgrammeReader,
    session: SessionDep,
    page: PageQuery,
    actor: Annotated[str | None, Query(max_length=80, description="e.g. user:alice")] = None,
    action: Annotated[
        str | None, Query(max_length=60, description="exact, or a prefix ending in '.'")
    ] = None,
    subject: Annotated[str | None, Query(max_length=120, description="e.g. household:12")] = None,
    since: Annotated[Instant | None, Query(description="UTC, inclusive")] = None,
    until: Annotated[Instant | None, Query(description="UTC, exclusive")] = None,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[AuditOut]:
    f = audit.AuditFilter(
        actor=actor, action=action, subject=subject, since=since, until=until, site_id=site_id
    )
    rows, total = audit.entries(session, f, limit=page.limit, offset=page.offset)
    return Page(
        items=[AuditOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
