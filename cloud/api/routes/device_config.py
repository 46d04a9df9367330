"""One-time configuration links for devices: made by the administrator, used by the Pi."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing

from cloud import device_config
from cloud.api.deps import Admin, SessionDep, StateDep, SystemWriteSessionDep
from cloud.api.errors import ApiError, error_responses
from cloud.api.schemas import DeviceIdStr
from cloud.broker_accounts import BrokerAccountError

router = APIRouter(prefix="/api/v1", tags=["devices"])


class ConfigLinkOut(BaseModel):
    device_id: str
    url: str
    expires_at: datetime
    command: str
    qr_svg: str


def qr_svg(text: str, size: float = 220) -> str:
    widget = QrCodeWidget(text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    d = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    d.add(widget)
    svg: str = renderSVG.drawToString(d)
    return svg[svg.index("<svg") :]


@router.post(
    "/devices/{device_id}/config-link",
    status_code=201,
    responses=error_responses(401, 403, 404, 409),
    summary="A one-time link to the device's edge.env (valid 24 h, one download)",
)
def config_link(
    device_id: Annotated[DeviceIdStr, Path()],
    principal: Admin,
    request: Request,
    session: SessionDep,
) -> ConfigLinkOut:
    token, link = device_config.issue_link(session, device_id=device_id, by=principal.label)
    session.commit()
    url = str(request.url_for("device_config_file", token=token))
    return ConfigLinkOut(
        device_id=device_id,
        url=url,
        expires_at=link.expires_at,
        qr_svg=qr_svg(url),
        command=f"sudo curl -fsS -o /etc/salinmas/edge.env {url} && sudo chmod 600 "
        "/etc/salinmas/edge.env",
    )


@router.get(
    "/device-config/{token}",
    response_class=PlainTextResponse,
    name="device_config_file",
    responses={
        200: {"content": {"text/plain": {}}},
        410: {"description": "Link used or expired"},
        **error_responses(503),
    },
    summary="The device's edge.env, once (the link is its credential; a fresh broker password)",
)
def device_config_file(
    token: Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SystemWriteSessionDep,
    state: StateDep,
) -> PlainTextResponse:
    mqtt = state.settings.mqtt
    try:
        text = device_config.redeem(
            session,
            state.broker,
            token=token,
            broker=device_config.BrokerAddress(mqtt.host, mqtt.port, mqtt.tls),
        )
    except device_config.LinkGone as exc:
        raise ApiError(410, "gone", str(exc)) from None
    except BrokerAccountError as exc:
        session.rollback()
        raise ApiError(503, "broker-unavailable", f"broker account not set: {exc}") from None
    session.commit()
    return PlainTextResponse(
        text,
        headers={"Content-Disposition": 'attachment; filename="edge.env"'},
    )
