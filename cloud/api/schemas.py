"""Request and response bodies of the API (Create / Update / Out variants).

Conventions: amounts are integer rupiah (``*_rp``), weights integer grams (``*_g``),
times UTC ISO-8601 (``...Z``), days ``YYYY-MM-DD`` in the programme's time zone.

One catalogue of ~600 lines on purpose: the shared field types (:data:`Instant`,
:data:`DbId`, ...) and the core resources' bodies, which reference each other; bodies
of separable domains already live beside it (:mod:`cloud.api.doorstep_schemas`,
:mod:`cloud.api.stock_schemas`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from contract.models import MAX_WEIGHT_G
from contract.topics import DEVICE_ID_PATTERN

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
MemberNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
CardId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:_-]{1,64}$")]
CategoryCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
SiteCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
DeviceIdStr = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=200)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{3,80}$")]
#: money in: whole rupiah as a JSON integer (``true``, ``"7"`` and ``1.0`` are refused)
Rupiah = Annotated[int, Strict(), Field(ge=0, le=10**12)]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$", to_lower=True)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
StaffRole = Literal["admin", "operator", "cashier", "collector", "auditor"]
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _sane_time(v: datetime) -> datetime:
    if v.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-01T00:00:00Z")
    if not 2000 <= v.year <= 2200:
        raise ValueError("out of range (years 2000-2200)")
    return v


#: an aware time in a sane range (what the ledger can store on both databases)
Instant = Annotated[datetime, AfterValidator(_sane_time)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --------------------------------------------------------------------------- auth


class LoginRequest(_In):
    username: Username = Field(examples=["operator1"])
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        examples=["a long passphrase"]
    )


class HouseholdLoginRequest(_In):
    member_no: MemberNo = Field(examples=["BMS-0001"])
    pin: Pin = Field(examples=["482913"])


class TokenOut(BaseModel):
    access_token: str = Field(description="send as `Authorization: Bearer`; lives minutes")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime = Field(description="when the access token expires")
    refresh_token: str = Field(
        description="single use: `POST /api/v1/auth/refresh` returns the next pair (also "
        "set as an HttpOnly cookie for the dashboard)"
    )
    refresh_expires_at: datetime = Field(description="when the login ends at the latest")
    role: str = Field(examples=["operator"])
    subject_id: int
    name: str


class RefreshRequest(_In):
    refresh_token: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = Field(
        default=None, description="omit to use the HttpOnly cookie"
    )


class StreamTicketOut(BaseModel):
    ticket: str = Field(description="open `GET /api/v1/stream?ticket=...` with it, once")
    expires_at: datetime


class MeOut(BaseModel):
    kind: Literal["user", "household"]
    id: int
    role: str
    name: str
    site_id: int | None


class UserCreate(_In):
    username: Username = Field(examples=["collector7"])
    password: Password
    role: StaffRole = Field(examples=["collector"])
    display_name: Text | None = Field(default=None, examples=["Pak Budi"])
    site_id: DbId | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class UserUpdate(_In):
    display_name: Text | None = None
    role: StaffRole | None = None
    active: bool | None = None
    password: Password | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    site_id: DbId | None = None


class UserOut(_Out):
    id: int
    username: str
    display_name: str
    role: str
    site_id: int | None
    phone: str | None
    active: bool
    created_at: datetime


# --------------------------------------------------------------------------- sites


class SiteCreate(_In):
    code: SiteCode = Field(examples=["bank-karanglewas"])
    name: Text = Field(examples=["Bank Sampah Karanglewas"])
    lat: Latitude | None = Field(default=None, description="the depot of collectors' routes")
    lon: Longitude | None = None


class SiteOut(_Out):
    id: int
    code: str
    name: str
    timezone: str
    lat: float | None = None
    lon: float | None = None
    area: str | None = Field(default=None, description="the kecamatan")


# --------------------------------------------------------------------------- households


class HouseholdCreate(_In):
    member_no: MemberNo = Field(examples=["BMS-0001"])
    name: Text = Field(examples=["Ibu Sri Wahyuni"])
    site: SiteCode | None = Field(default=None, description="site code", examples=["bank-01"])
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    pin: Pin | None = Field(default=None, description="login PIN for the household page")


class HouseholdUpdate(_In):
    name: Text | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    lat: Latitude | None = Field(default=None, description="the household's door (a pin)")
    lon: Longitude | None = None


class HouseholdOut(_Out):
    id: int
    member_no: str
    name: str
    site_id: int | None
    active: bool
    phone: str | None
    address: str | None
    lat: float | None = None
    lon: float | None = None
    created_at: datetime
    cards: list[str] = Field(default_factory=list, description="active card ids")


class PinSet(_In):
    pin: Pin


class CardLink(_In):
    card_id: CardId = Field(examples=["04A1B2C3D4"])


class CardOut(_Out):
    card_id: str
    household_id: int
    active: bool
    linked_at: datetime
    linked_by: str | None
    unlinked_at: datetime | None
    unlinked_by: str | None


# --------------------------------------------------------------------------- categories


class CategoryCreate(_In):
    code: CategoryCode = Field(examples=["plastic-pet"])
    name_id: Text = Field(examples=["Botol plastik PET"])
    name_en: Text = Field(examples=["PET plastic bottles"])
    rp_per_kg: Rupiah | None = Field(default=None, description="first price, effective now")
    colour: Colour | None = Field(
        default=None, examples=["#0072b2"], description="chart colour; default: by its code"
    )


class CategoryOut(BaseModel):
    code: str
    name_id: str
    name_en: str
    active: bool
    colour: str = Field(description="#rrggbb the dashboard draws this category in")
    rp_per_kg: int | None = Field(description="the price in force now")
    price_since: datetime | None


class PriceCreate(_In):
    rp_per_kg: Rupiah = Field(examples=[3500])
    effective_from: Instant | None = Field(
        default=None, description="default now; a future time schedules the change"
    )


class PriceOut(_Out):
    id: int
    category_code: str
    rp_per_kg: int
    effective_from: datetime
    created_at: datetime
    created_by: str | None


# --------------------------------------------------------------------------- weigh-ins


class WeighinOut(_Out):
    id: int
    event_id: str
    device_id: str
    seq: int
    effective_at: datetime
    received_at: datetime
    site_id: int | None
    card_id: str | None
    category_code: str
    net_g: int
    tare_g: int
    division_g: int
    price_rp_per_kg: int | None
    amount_rp: int
    status: str = Field(
        examples=["credited"], description="credited | unassigned | rejected | held"
    )
    reason: str | None
    household_id: int | None
    assigned_at: datetime | None
    assigned_by: str | None
    reversed: bool
    protocol: str
    frames: list[str] = Field(description="the raw indicator frames (hex) behind the weight")
    provenance: str = Field(examples=["signed"], description="signed | unsigned | collector")
    chain_pos: int | None = Field(description="position in the station key's chain")
    verify_code: str | None = Field(
        examples=["7K3Q-X9M2-PA4T"], description="checked on the public page /verify.html"
    )


class AssignRequest(_In):
    household_id: DbId


class ReverseRequest(_In):
    reason: Reason = Field(examples=["card of the neighbour was used by mistake"])


class ReversalOut(BaseModel):
    weighin_id: int
    reversal_entry_id: int
    amount_rp: int
    household_id: int | None
    balance_rp: int | None
    owed_rp: int | None = Field(
        None, description="what the household owes after it (the part spent or held)"
    )


# --------------------------------------------------------------------------- accounts


class BalanceOut(BaseModel):
    household_id: int
    balance_rp: int = Field(examples=[45000], description="sum of the account's postings")
    held_rp: int = Field(description="requested and approved payouts not yet paid")
    available_rp: int = Field(description="balance - held: the most a new payout can be")


class StatementLineOut(BaseModel):
    entry_id: int
    at: datetime
    kind: str = Field(examples=["weighin_credit"])
    description: str
    amount_rp: int = Field(description="+ credited to the household, - paid out or reversed")
    balance_rp: int
    weighin: WeighinOut | None = Field(description="the weigh-in behind a credit or reversal")


class StatementOut(BaseModel):
    household_id: int
    opening_balance_rp: int
    closing_balance_rp: int
    lines: list[StatementLineOut]


# --------------------------------------------------------------------------- payouts


class PayoutCreate(_In):
    amount_rp: Annotated[int, Strict(), Field(gt=0, le=100_000_000)] = Field(examples=[25000])
    note: Note | None = None


class PayoutReject(_In):
    reason: Reason = Field(examples=["household asked to keep saving"])


class PayoutOut(_Out):
    id: int
    household_id: int
    amount_rp: int
    status: str = Field(examples=["requested"])
    note: str | None
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None
    decided_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    reason: str | None
    entry_id: int | None


# --------------------------------------------------------------------------- bins & pickups


class BinCreate(_In):
    bin_id: DeviceIdStr = Field(examples=["bin-pasar-01"])
    site: SiteCode | None = None
    device_id: DeviceIdStr | None = None
    category: CategoryCode | None = None
    name: Text | None = None
    x: float | None = Field(default=None, ge=-1e6, le=1e6)
    y: float | None = Field(default=None, ge=-1e6, le=1e6)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    empty_depth_mm: int | None = Field(default=None, ge=50, le=10_000)
    threshold_pct: float = Field(default=80.0, gt=0, le=100)
    hysteresis_pct: float = Field(default=10.0, ge=0, lt=100)


class BinOut(_Out):
    bin_id: str
    site_id: int | None
    device_id: str | None
    category_code: str | None
    name: str | None
    x: float | None
    y: float | None
    lat: float | None
    lon: float | None
    empty_depth_mm: int | None
    threshold_pct: float
    hysteresis_pct: float
    active: bool
    fill_pct: float | None
    fault: str | None
    lid_open: bool | None
    tilted: bool | None
    state_at: datetime | None
    forecast_full_at: datetime | None
    fill_rate_pct_per_h: float | None


class PickupCreate(_In):
    bin_id: DeviceIdStr | None = None
    household_id: DbId | None = None
    due_at: Instant | None = None
    priority: int = Field(default=0, ge=0, le=9)
    note: Note | None = None


class HouseholdPickupRequest(_In):
    """A household's request for a pickup at its door (JEKNYONG, cloud.doorstep)."""

    categories: list[CategoryCode] = Field(
        default_factory=list,
        max_length=10,
        examples=[["plastic-pet", "plastic-mixed"]],
        description="the categories the household has",
    )
    category: CategoryCode | None = Field(
        default=None, description="one category (older clients); added to `categories`"
    )
    estimated_kg: float | None = Field(
        default=None, gt=0, le=200, description="about how much; default per category"
    )
    window_start: Instant | None = Field(default=None, description="come from (with window_end)")
    window_end: Instant | None = None
    lat: Latitude | None = Field(default=None, description="a pin at the door")
    lon: Longitude | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    note: Note | None = Field(default=None, examples=["2 karung, rumah cat hijau"])


class PickupAssign(_In):
    collector_id: DbId


class PickupComplete(_In):
    collected_g: Annotated[int, Strict()] | None = Field(default=None, ge=0, le=10_000_000)
    note: Note | None = None


class PickupCancel(_In):
    reason: Reason


class PickupOut(_Out):
    id: int
    kind: str = Field(examples=["bin_full"], description="bin_full | household | manual")
    status: str = Field(examples=["open"], description="open | assigned | done | cancelled")
    bin_id: str | None
    household_id: int | None
    site_id: int | None
    category_code: str | None
    priority: int
    opened_at: datetime
    due_at: datetime | None
    fill_pct_at_open: float | None
    note: str | None
    requested_by: str | None
    collector_id: int | None
    assigned_at: datetime | None
    completed_at: datetime | None
    collected_g: int | None
    cancel_reason: str | None
    # where to go: the household's or the bin's details (collectors cannot read those
    # resources themselves, but need them for the pickups assigned to them)
    member_no: str | None = None
    household_name: str | None = None
    address: str | None = None
    phone: str | None = None
    bin_name: str | None = None
    lat: float | None = None
    lon: float | None = None
    # a household's request at the door, and who comes when (cloud.doorstep, dispatch)
    window_start: datetime | None = None
    window_end: datetime | None = None
    categories: list[str] | None = None
    estimated_g: int | None = None
    eta_at: datetime | None = Field(default=None, description="planned start of service")
    route_seq: int | None = Field(default=None, description="its place on the route (0 first)")
    collector_name: str | None = None


# --------------------------------------------------------------------------- devices


class DeviceCreate(_In):
    device_id: DeviceIdStr = Field(examples=["st-bank01"])
    kind: Literal["station", "bin"]
    name: Text | None = None
    site_id: DbId | None = None
    lat: Latitude | None = Field(default=None, description="where it stands (WGS 84)")
    lon: Longitude | None = None
    capacity_g: Annotated[int, Strict(), Field(gt=0, le=MAX_WEIGHT_G)] | None = Field(
        default=None,
        examples=[150_000],
        description="capacity (Max) of a station's scale in grams; default 300 kg. Ingest "
        "refuses a heavier weigh-in (net + tare) as over_capacity",
    )


class DeviceCredentials(BaseModel):
    """Shown ONCE: the broker account of a newly provisioned device."""

    device_id: str
    mqtt_username: str
    mqtt_password: str
    mqtt_host: str
    mqtt_port: int


class DeviceOut(_Out):
    device_id: str
    kind: str
    site_id: int | None
    name: str | None
    lat: float | None
    lon: float | None
    registered_at: datetime
    capacity_g: int
    revoked: bool
    revoked_at: datetime | None
    online: bool
    status_at: datetime | None
    last_seen: datetime | None
    sw_version: str | None
    uptime_s: int | None
    outbox_depth: int | None
    outbox_capacity: int | None
    health_at: datetime | None
    sw_hash: str | None = Field(default=None, description="installed code it last reported")
    config_hash: str | None = Field(default=None, description="configuration it last reported")


class CommandRequest(_In):
    action: Literal["tare", "zero", "reload", "ping"]


class CommandOut(BaseModel):
    cmd_id: str
    device_id: str
    action: str
    issued_at: datetime


# --------------------------------------------------------------------------- telemetry


class FillPoint(BaseModel):
    at: datetime
    fill_pct: float


class DailyTotal(BaseModel):
    day: date = Field(description="the day in the programme's time zone")
    device_id: str = Field(description="the scale station")
    category_code: str
    weighins: int
    net_g: int
    amount_rp: int


class AlertOut(_Out):
    id: int
    kind: str
    subject: str
    site_id: int | None
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    client_hint: str | None
    reason: str
    detail: str
    payload_preview: str = Field(description="the first bytes, as text (invalid UTF-8 escaped)")
    payload_size: int
    truncated: bool


class DeadLetterCounts(BaseModel):
    total: int
    by_reason: dict[str, int]


# --------------------------------------------------------------------------- dashboard


class MapConfig(BaseModel):
    tiles_url: str | None = Field(
        description="tile URL template ({z}/{x}/{y}); null = no base map, points only"
    )
    attribution: str
    max_zoom: int
    center: tuple[float, float] = Field(description="lat, lon shown when nothing is placed")
    zoom: int


class UiConfig(BaseModel):
    """What the dashboard needs to know about this installation."""

    timezone: str
    map: MapConfig
    min_pickup_g: int = Field(
        default=0, description="the least a household may ask to be picked up"
    )
    two_person_payout_rp: int | None = Field(
        default=None,
        description="payouts from this amount on are approved, and paid in cash, by a "
        "second person (not who requested, resp. approved, it)",
    )
