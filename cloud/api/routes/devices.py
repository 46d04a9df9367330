"""Devices: provision (broker account, credentials shown once), revoke, list, command."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud import audit, provisioning
from cloud.api.deps import Admin, Operator, SessionDep, SiteReader, StateDep
from cloud.api.errors import ApiError, FieldError, error_responses
from cloud.api.mqtt import BrokerUnavailable
from cloud.api.paging import AreaQuery, ListQuery, Page, listed
from cloud.api.schemas import (
    CommandOut,
    CommandRequest,
    DeviceCreate,
    DeviceCredentials,
    DeviceIdStr,
    DeviceOut,
)
from cloud.broker_accounts import BrokerAccountError
from cloud.devices import devices_query, get_device, set_capacity
from cloud.models import Device, Site, utcnow
from contract import DeviceCommand
from contract.models import CommandAction

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

DeviceId = Annotated[DeviceIdStr, Path(description="device id (= its MQTT username)")]


#: a device page's total is counted this far ("more than" beyond)
DEVICE_COUNT_CAP = 50_000


@router.get(
    "",
    responses=error_responses(401, 403, 422),
    summary="Devices with online status: a page with `offset`, else the bare list",
    response_model=Page[DeviceOut] | list[DeviceOut],
)
def devices(
    _: SiteReader,
    session: SessionDep,
    listing: ListQuery,
    area: AreaQuery,
    site_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: Annotated[str | None, Query(pattern="^(station|bin)$")] = None,
    online: bool | None = None,
    revoked: bool | None = None,
) -> Page[DeviceOut] | list[DeviceOut]:
    q = devices_query(site_id=site_id, kind=kind, online=online, revoked=revoked)
    if area is not None:
        q = q.where(area.where(Device.lat, Device.lon))
    return listed(
        session,
        q,
        listing,
        lambda rows: [DeviceOut.model_validate(d) for d in rows],
        cap=DEVICE_COUNT_CAP,
        default_limit=None,
    )


@router.get("/{device_id}", responses=error_responses(401, 403, 404))
def device(_: SiteReader, device_id: DeviceId, session: SessionDep) -> DeviceOut:
    dev = get_device(session, device_id=device_id)
    if dev is None:
        raise ApiError(404, "not-found", f"no device {device_id!r}")
    return DeviceOut.model_validate(dev)


@router.post(
    "",
    status_code=201,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Provision a device: registry entry + broker account; the password is shown ONCE",
)
def provision(
    body: DeviceCreate, principal: Admin, session: SessionDep, state: StateDep
) -> DeviceCredentials:
    if body.site_id is not None and session.get(Site, body.site_id) is None:
        raise ApiError(
            422,
            "validation",
            f"no site {body.site_id}",
            errors=[FieldError(field="body.site_id", message="unknown site")],
        )
    try:
        creds = provisioning.provision_device(
            session,
            state.broker,
            device_id=body.device_id,
            kind=body.kind,
            name=body.name,
            site_id=body.site_id,
            by=principal.label,
        )
    except BrokerAccountError as exc:
        raise ApiError(503, "broker-unavailable", f"broker account not created: {exc}") from None
    if body.lat is not None and body.lon is not None:
        dev = get_device(session, device_id=body.device_id)
        if dev is not None:
            dev.lat, dev.lon = body.lat, body.lon
    if body.capacity_g is not None:
        set_capacity(session, device_id=body.device_id, capacity_g=body.capacity_g)
    session.commit()
    mqtt = state.settings.mqtt
    return DeviceCredentials(
        device_id=creds.device_id,
        mqtt_username=creds.username,
        mqtt_password=creds.password,
        mqtt_host=mqtt.host,
        mqtt_port=mqtt.port,
    )


@router.post(
    "/{device_id}/revoke",
    responses=error_responses(401, 403, 404, 503),
    summary="Revoke: the broker account is deleted and the device disconnected at once",
)
def revoke(
    device_id: DeviceId, principal: Admin, session: SessionDep, state: StateDep
) -> DeviceOut:
    try:
        dev = provisioning.revoke_device(
            session, state.broker, device_id=device_id, by=principal.label
        )
    except BrokerAccountError as exc:
        session.commit()  # revoked in the registry: ingest refuses the device from now on
        raise ApiError(
            503,
            "broker-unavailable",
            f"revoked in the registry, but the broker account is not deleted ({exc}): retry",
        ) from None
    session.commit()
    return DeviceOut.model_validate(dev)


@router.post(
    "/{device_id}/commands",
    status_code=202,
    responses=error_responses(401, 403, 404, 409, 503),
    summary="Send a command (tare, zero, reload, ping) over MQTT",
)
def command(
    device_id: DeviceId,
    body: CommandRequest,
    principal: Operator,
    session: SessionDep,
    state: StateDep,
) -> CommandOut:
    dev = get_device(session, device_id=device_id)
    if dev is None:
        raise ApiError(404, "not-found", f"no device {device_id!r}")
    if dev.revoked:
        raise ApiError(409, "conflict", f"device {device_id!r} is revoked")
    cmd = DeviceCommand(
        cmd_id=secrets.token_hex(8),
        device_id=device_id,
        action=CommandAction(body.action),
        issued_at=utcnow(),
    )
    if state.mqtt is None:
        raise ApiError(503, "broker-unavailable", "the API has no broker connection configured")
    try:
        state.mqtt.send_command(cmd)
    except BrokerUnavailable as exc:
        raise ApiError(503, "broker-unavailable", str(exc)) from None
    audit.record(
        session,
        actor=principal.label,
        action="device.command",
        subject=f"device:{device_id}",
        after={"action": body.action, "cmd_id": cmd.cmd_id},
        site_id=dev.site_id,
    )
    session.commit()
    return CommandOut(
        cmd_id=cmd.cmd_id, device_id=device_id, action=body.action, issued_at=cmd.issued_at
    )
