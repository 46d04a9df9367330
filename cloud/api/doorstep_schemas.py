"""Bodies of the JEKNYONG routes: completions at the door, collectors' settings and
floats, and the planned routes (conventions of :mod:`cloud.api.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from cloud.api.schemas import CategoryCode, Instant, Latitude, Longitude, Note, _In
from cloud.doorstep import MAX_LINE_G, MAX_LINES, MAX_PHOTO_BYTES
from cloud.stock import MAX_QTY_G

PhoneId = Annotated[str, StringConstraints(pattern=r"^ph-[a-z0-9]{8,40}$")]
Seq = Annotated[int, Field(ge=1, lt=2**63)]
HexFrame = Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{2}){1,256}$")]
Base64 = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9+/]+={0,2}$", max_length=(MAX_PHOTO_BYTES * 4) // 3 + 4),
]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class DoorstepLineIn(_In):
    """One bag weighed at the door."""

    seq: Seq = Field(description="the phone's sequence number: event id {phone_id}:{seq}")
    category: CategoryCode = Field(examples=["plastic-pet"])
    net_g: int = Field(gt=0, le=MAX_LINE_G, examples=[3250])
    weighed_at: Instant = Field(description="the phone's clock when it was weighed")
    entry: Literal["typed", "scale"] = Field(
        default="typed", description="typed by the collector, or read from a scale by the phone"
    )
    scale: Annotated[str, StringConstraints(max_length=60)] | None = Field(
        default=None, description="the scale as the phone named it, when read"
    )
    division_g: int = Field(default=1, ge=1, le=100_000, description="the scale's d")
    frames: list[HexFrame] = Field(default_factory=list, max_length=32)
    note: Note | None = None
    photo: Base64 | None = Field(default=None, description="a JPEG/PNG/WebP, base64")
    photo_type: Literal["image/jpeg", "image/png", "image/webp"] | None = None


class DoorstepIn(_In):
    """A completion of a household's pickup, as the collector's phone queued it."""

    phone_id: PhoneId = Field(description="the phone's own id, made when installed")
    seq: Seq = Field(description="the completion's event id is {phone_id}:{seq}")
    completed_at: Instant
    clock_synced: bool = Field(
        description="the phone's clock agreed with the server's at its last contact"
    )
    boot_id: UUID = Field(description="the page session that recorded it")
    mono_ms: int = Field(ge=0, lt=2**63, description="ms since that session started")
    payment: Literal["savings", "cash"] = "savings"
    lines: list[DoorstepLineIn] = Field(min_length=1, max_length=MAX_LINES)
    note: Note | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    user_agent: Annotated[str, StringConstraints(max_length=200)] | None = None


class DoorstepLineOut(BaseModel):
    event_id: str
    weighin_id: int
    category: str
    net_g: int
    status: str = Field(description="credited | unassigned | rejected")
    price_rp_per_kg: int | None
    amount_rp: int
    effective_at: datetime = Field(description="the time it counts at (priced at)")
    reason: str | None


class DoorstepOut(BaseModel):
    completion_id: int
    event_id: str
    pickup_id: int
    household_id: int
    payment: str
    total_g: int
    total_rp: int = Field(description="credited to the household's savings")
    cash_rp: int = Field(description="of which paid in cash at the door")
    balance_rp: int = Field(description="the household's balance now")
    replay: bool = Field(description="true: this completion was received before")
    lines: list[DoorstepLineOut]


class CollectorProfileIn(_In):
    site_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    capacity_kg: float = Field(default=60, gt=0, le=1000)
    box_l: float | None = Field(default=None, gt=0, le=10_000, description="box volume")
    shift_start: HourMinute = "08:00"
    shift_hours: float = Field(default=8, gt=0, le=24)
    empties_bins: bool = False
    on_duty: bool = True


class CollectorProfileOut(BaseModel):
    user_id: int
    site_id: int | None
    capacity_kg: float
    box_l: float | None
    shift_start: str
    shift_hours: float
    empties_bins: bool
    on_duty: bool
    unloaded_at: datetime | None


class FloatOut(BaseModel):
    collector_id: int
    float_rp: int = Field(description="cash the collector should be carrying")


class FloatIssue(_In):
    amount_rp: int = Field(gt=0, le=100_000_000)


class DepotIn(_In):
    counted_cash_rp: int | None = Field(
        default=None, ge=0, le=100_000_000, description="cash handed back, counted; settles"
    )
    delivered_g: dict[CategoryCode, Annotated[int, Field(gt=0, le=MAX_QTY_G)]] | None = Field(
        default=None,
        max_length=50,
        examples=[{"plastic-pet": 6200}],
        description="the unloaded box weighed at the depot, grams per category: it enters "
        "the site's stock with the collector's doorstep weigh-ins not yet delivered",
    )


class DepotOut(FloatOut):
    delivery_id: int | None = Field(description="the depot delivery recorded, if weighed")
    delivered_weighins: int = Field(description="doorstep weigh-ins the delivery carries")


class SiteLocation(_In):
    lat: Latitude
    lon: Longitude


class RouteStopOut(BaseModel):
    pickup_id: int
    seq: int
    kind: str
    status: str
    lat: float
    lon: float
    eta: datetime = Field(description="planned start of service")
    arrival: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    household_id: int | None = None
    household_name: str | None = None
    member_no: str | None = None
    address: str | None = None
    phone: str | None = None
    categories: list[str] | None = None
    estimated_g: int | None = None
    bin_id: str | None = None
    bin_name: str | None = None
    note: str | None = None
    maps_url: str = Field(description="open in a maps app (a geo: URI)")
    web_maps_url: str = Field(description="the same place on OpenStreetMap")


class RouteDoneOut(BaseModel):
    pickup_id: int
    completed_at: datetime | None
    title: str
    collected_g: int | None
    total_rp: int | None = None
    payment: str | None = None


class UnservedOut(BaseModel):
    pickup_id: int
    reason: str
    detail: str
    title: str | None = None


class CollectorRouteOut(BaseModel):
    """A collector's day: ordered stops with ETAs, what is done, where the depot is."""

    collector_id: int
    name: str
    site_id: int | None
    site_name: str | None = None
    depot: SiteLocation | None = None
    plan_id: int | None = None
    planned_at: datetime | None = None
    reason: str | None = None
    matrix_source: str | None = None
    depart: datetime | None = None
    back: datetime | None = None
    distance_m: int = 0
    capacity_g: int | None = None
    load_g: int = 0
    float_rp: int = 0
    stops: list[RouteStopOut] = Field(default_factory=list)
    done: list[RouteDoneOut] = Field(default_factory=list)
    unserved: list[UnservedOut] = Field(default_factory=list)
    problem: str | None = Field(default=None, description="why there is no route")


class SiteRouteOut(BaseModel):
    collector_id: int
    name: str
    depart: datetime
    back: datetime
    distance_m: int
    travel_s: int
    load_g: int
    stops: list[RouteStopOut]


class SiteRoutesOut(BaseModel):
    """Every collector's route of a site (the operator's map), and what no route takes."""

    site_id: int
    site_name: str
    depot: SiteLocation | None
    plan_id: int | None
    planned_at: datetime | None
    reason: str | None
    matrix_source: str | None
    solve_s: float | None
    routes: list[SiteRouteOut]
    unserved: list[UnservedOut]
    problem: str | None = None
