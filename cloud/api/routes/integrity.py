"""Integrity: held weigh-ins (release, reject: the site's operator), station keys and
approved builds and configurations (the administrator: device trust is programme-wide),
and the stations' configuration logs (read by the site's staff and the auditor); every
action names who did it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud import devicekeys, holds
from cloud.api.deps import Admin, Limit, Operator, SessionDep, SiteReader
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import DbId, DeviceIdStr, Reason, WeighinOut
from cloud.api.weighin_view import weighin_out
from cloud.integrity import Inspector
from cloud.models import Approval, ConfigLogEntry, Device, DeviceKey, Hold

router = APIRouter(prefix="/api/v1", tags=["integrity"])

Hex = Annotated[str, Path(pattern=r"^[0-9a-f]{16}([0-9a-f]{48})?$", description="key id or key")]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
DeviceId = Annotated[DeviceIdStr, Path(description="the station")]


class HoldOut(BaseModel):
    weighin: WeighinOut
    hold_id: int
    kind: str = Field(examples=["signature"])
    detail: str
    held_at: datetime


class ResolveRequest(BaseModel):
    note: Reason = Field(examples=["weight checked with the household's own receipt"])


class KeyOut(BaseModel):
    device_id: str
    key_id: str
    public_key: str
    status: str = Field(examples=["pending"])
    first_seen_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    retired_at: datetime | None
    retired_by: str | None


class ApprovalIn(BaseModel):
    kind: Literal["software", "config"]
    digest: Digest
    note: Annotated[str, Field(max_length=200)] | None = None


class ApprovalOut(BaseModel):
    device_id: str
    kind: str
    digest: str
    note: str | None
    approved_at: datetime
    approved_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None


class ConfigEntryOut(BaseModel):
    log_pos: int
    change: str
    sw_version: str
    sw_hash: str
    config_hash: str
    public_key: str | None
    protocol: str | None
    division_g: int | None
    capacity_g: int | None
    min_divisions: int | None
    stable_window_ms: int | None
    min_stable_samples: int | None
    calibration: str | None
    device_time: datetime
    received_at: datetime
    approved_software: bool
    approved_config: bool


def _reach(session: SessionDep, device_id: str) -> None:
    """404 for a station out of the caller's reach (or none): its rows are empty to it."""
    if session.get(Device, device_id) is None:
        raise ApiError(404, "not-found", f"no device {device_id!r}")


def _hold_out(pair: tuple[object, Hold]) -> HoldOut:
    rec, hold = pair
    return HoldOut(
        weighin=weighin_out(rec),  # type: ignore[arg-type]
        hold_id=hold.id,
        kind=hold.kind,
        detail=hold.detail,
        held_at=hold.held_at,
    )


@router.get("/holds", responses=error_responses(401, 403), summary="Held weigh-ins, oldest first")
def list_holds(
    _: SiteReader,
    session: SessionDep,
    device_id: Annotated[DeviceIdStr | None, Query()] = None,
    limit: Limit = 100,
) -> list[HoldOut]:
    return [_hold_out(p) for p in holds.open_holds(session, device_id=device_id, limit=limit)]


@router.post(
    "/holds/{weighin_id}/release",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Credit a held weigh-in through the normal path (with a note; audited)",
)
def release(
    weighin_id: DbId, body: ResolveRequest, principal: Operator, session: SessionDep
) -> WeighinOut:
    rec = holds.release(
        session,
        weighin_id=weighin_id,
        by=principal.label,
        note=body.note,
        inspector=Inspector(enforce=True),
    )
    session.commit()
    return weighin_out(rec)


@router.post(
    "/holds/{weighin_id}/reject",
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Refuse a held weigh-in for good (with a reason; audited)",
)
def reject(
    weighin_id: DbId, body: ResolveRequest, principal: Operator, session: SessionDep
) -> WeighinOut:
    rec = holds.reject(session, weighin_id=weighin_id, by=principal.label, reason=body.note)
    session.commit()
    return weighin_out(rec)


@router.get("/devices/{device_id}/keys", responses=error_responses(401, 403))
def keys(device_id: DeviceId, _: SiteReader, session: SessionDep) -> list[KeyOut]:
    _reach(session, device_id)
    return [
        KeyOut.model_validate(k, from_attributes=True)
        for k in devicekeys.keys_of(session, device_id=device_id)
    ]


@router.post(
    "/devices/{device_id}/keys/{key}/approve",
    responses=error_responses(401, 403, 404, 409),
    summary="Approve the station's key (compare its key id with the station's first)",
)
def approve_key(device_id: DeviceId, key: Hex, principal: Admin, session: SessionDep) -> KeyOut:
    row = devicekeys.approve_key(session, device_id=device_id, key=key, by=principal.label)
    session.commit()
    return KeyOut.model_validate(row, from_attributes=True)


@router.post("/devices/{device_id}/keys/{key}/retire", responses=error_responses(401, 403, 404))
def retire_key(device_id: DeviceId, key: Hex, principal: Admin, session: SessionDep) -> KeyOut:
    row = devicekeys.retire_key(session, device_id=device_id, key=key, by=principal.label)
    session.commit()
    return KeyOut.model_validate(row, from_attributes=True)


@router.get("/devices/{device_id}/approvals", responses=error_responses(401, 403))
def approvals(device_id: DeviceId, _: SiteReader, session: SessionDep) -> list[ApprovalOut]:
    _reach(session, device_id)
    rows = session.scalars(
        select(Approval).where(Approval.device_id == device_id).order_by(Approval.id)
    )
    return [ApprovalOut.model_validate(a, from_attributes=True) for a in rows]


@router.post(
    "/devices/{device_id}/approvals",
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
    summary="Approve a software build or a configuration (by hash) for this station",
)
def approve(
    device_id: DeviceId, body: ApprovalIn, principal: Admin, session: SessionDep
) -> ApprovalOut:
    row = devicekeys.approve(
        session,
        device_id=device_id,
        kind=body.kind,
        digest=body.digest,
        by=principal.label,
        note=body.note,
    )
    session.commit()
    return ApprovalOut.model_validate(row, from_attributes=True)


@router.post("/devices/{device_id}/approvals/withdraw", responses=error_responses(401, 403, 404))
def withdraw(
    device_id: DeviceId, body: ApprovalIn, principal: Admin, session: SessionDep
) -> ApprovalOut:
    row = devicekeys.withdraw(
        session, device_id=device_id, kind=body.kind, digest=body.digest, by=principal.label
    )
    session.commit()
    return ApprovalOut.model_validate(row, from_attributes=True)


@router.get(
    "/devices/{device_id}/config-log",
    responses=error_responses(401, 403),
    summary="The station's configuration log (software and metrological changes)",
)
def config_log(device_id: DeviceId, _: SiteReader, session: SessionDep) -> list[ConfigEntryOut]:
    _reach(session, device_id)
    have = devicekeys.approved_digests(session, [device_id])
    rows = session.scalars(
        select(ConfigLogEntry)
        .where(ConfigLogEntry.device_id == device_id)
        .order_by(ConfigLogEntry.log_pos, ConfigLogEntry.id)
    )
    return [
        ConfigEntryOut.model_validate(
            {
                **{c: getattr(r, c) for c in ConfigEntryOut.model_fields if hasattr(r, c)},
                "approved_software": (device_id, "software", r.sw_hash) in have,
                "approved_config": (device_id, "config", r.config_hash) in have,
            }
        )
        for r in rows
    ]


__all__ = ["DeviceKey", "router"]
