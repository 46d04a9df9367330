"""Request and response bodies of the stock, sales, mass-balance and fraud-case routes.

Conventions as in :mod:`cloud.api.schemas`: weights integer grams (``*_g``), money
integer rupiah (``*_rp``), times UTC ISO-8601, days ``YYYY-MM-DD`` in the programme's
time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from cloud.api.schemas import (
    CategoryCode,
    DbId,
    DeviceIdStr,
    Instant,
    Note,
    Rupiah,
    Text,
    _In,
    _Out,
)
from cloud.models.stock import LOSS_REASONS
from cloud.stock import MAX_QTY_G

Grams = Annotated[int, Field(gt=0, le=MAX_QTY_G, description="grams")]
DecisionNote = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)
]
Ticket = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
LossReason = Literal["drying", "sorting_reject", "spillage", "other"]
assert set(LossReason.__args__) == set(LOSS_REASONS)  # type: ignore[attr-defined]

# --------------------------------------------------------------------------- stock


class StockLevelOut(BaseModel):
    site_id: int
    site_code: str
    category: str
    qty_g: int = Field(description="in stock now (the sum of the movements)")
    unassigned_g: int = Field(description="weighed in without a card: on site, not yet in stock")


class MovementOut(_Out):
    id: int
    site_id: int
    category_code: str
    kind: str = Field(
        examples=["weighin"],
        description="weighin | weighin_reversal | doorstep | "
        "transfer_in | transfer_out | sale | loss | count",
    )
    qty_g: int = Field(description="+ in, - out")
    effective_at: datetime
    created_at: datetime
    created_by: str | None
    reason: str | None
    note: str | None
    weighin_id: int | None
    sale_id: int | None
    delivery_id: int | None


class LossCreate(_In):
    site_id: DbId
    category: CategoryCode
    qty_g: Grams = Field(examples=[2500])
    reason: LossReason
    at: Instant | None = Field(default=None, description="default now")
    note: Note | None = None


class TransferCreate(_In):
    from_site_id: DbId
    to_site_id: DbId
    category: CategoryCode
    qty_g: Grams
    at: Instant | None = None
    note: Note | None = None


class TransferOut(BaseModel):
    out: MovementOut
    into: MovementOut


class CountCreate(_In):
    site_id: DbId
    category: CategoryCode
    counted_g: Annotated[int, Field(ge=0, le=MAX_QTY_G)] = Field(description="weighed on hand")
    at: Instant | None = None
    note: Note | None = None


class CountOut(BaseModel):
    movement: MovementOut | None = Field(description="the difference recorded; none if equal")
    level_g: int


# --------------------------------------------------------------------------- sales


class SaleCreate(_In):
    site_id: DbId
    category: CategoryCode
    buyer: Text = Field(examples=["CV Daur Ulang Banyumas"])
    qty_g: Grams = Field(examples=[125_000])
    rp_per_kg: Rupiah = Field(examples=[4500])
    amount_rp: Rupiah = Field(examples=[562_500], description="rupiah received")
    scale_device_id: DeviceIdStr | None = Field(default=None, description="the site's scale, or")
    ticket_no: Ticket | None = Field(default=None, description="a weighbridge ticket number")
    sold_at: Instant | None = Field(default=None, description="default now")
    note: Note | None = None


class SaleOut(_Out):
    id: int
    site_id: int
    category_code: str
    buyer: str
    qty_g: int
    scale_device_id: str | None
    ticket_no: str | None
    rp_per_kg: int
    amount_rp: int
    sold_at: datetime
    created_at: datetime
    created_by: str
    note: str | None
    entry_id: int | None


class MarginOut(BaseModel):
    month: date
    category: str
    bought_g: int
    purchases_rp: int
    sold_g: int
    revenue_rp: int
    margin_rp: int


class BalanceRowOut(BaseModel):
    """One site and category over the period (grams; see cloud/massbalance.py)."""

    site_id: int
    site_code: str
    category: str
    start: datetime
    end: datetime
    opening_g: int
    weighin_g: int
    reversal_g: int
    doorstep_g: int
    transfer_in_g: int
    transfer_out_g: int
    sold_g: int
    lost_g: int
    counted_g: int
    closing_g: int
    came_in_g: int
    loss_total_g: int
    allowed_loss_bp: int
    allowed_loss_g: int
    credited_station_g: int
    credited_doorstep_g: int
    credited_g: int
    door_g: int
    doorstep_gap_g: int
    unassigned_g: int
    flags: list[str] = Field(examples=[["loss_over_allowance"]])


class LossAllowanceOut(BaseModel):
    category: str
    allowed_loss_bp: int = Field(description="basis points of what the site held (1500 = 15 %)")


class LossAllowanceSet(_In):
    category: CategoryCode
    allowed_loss_bp: Annotated[int, Field(ge=0, le=10_000)] = Field(examples=[1500])


# --------------------------------------------------------------------------- fraud


class CaseOut(_Out):
    id: int
    rule_code: str
    subject_kind: str = Field(description="household | card | station | collector")
    subject_key: str
    household_id: int | None
    site_id: int | None
    first_day: date
    last_day: date
    hits: int
    figures: dict[str, Any]
    summary: str
    status: str = Field(description="open | dismissed | confirmed")
    raised_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    explanation_id: str = ""
    explanation_en: str = ""


class CaseDecision(_In):
    note: DecisionNote = Field(examples=["two members of one family share the card; checked"])


class RuleOut(BaseModel):
    code: str
    enabled: bool
    params: dict[str, float]
    explanation_id: str
    explanation_en: str
    updated_at: datetime
    updated_by: str | None


class RuleUpdate(_In):
    params: (
        dict[
            Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")],
            Annotated[float, Field(ge=0, lt=1e9)],
        ]
        | None
    ) = None
    enabled: bool | None = None


class ScanRequest(_In):
    first: date | None = Field(default=None, description="first local day (default 35 days ago)")
    last: date | None = Field(default=None, description="last local day (default today)")


class ScanOut(BaseModel):
    first: date
    last: date
    hits: int
    raised: int
    extended: int
    known: int
    raised_by_rule: dict[str, int]


class HoldOut(_Out):
    id: int
    household_id: int
    case_id: int
    held_at: datetime
    held_by: str
    released_at: datetime | None
    released_by: str | None
    release_note: str | None


class OpeningDay(BaseModel):
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    opens: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "07:00"
    closes: Annotated[
        str, StringConstraints(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")
    ] = "16:00"


class OpeningHoursSet(_In):
    site_id: DbId
    days: list[OpeningDay] = Field(max_length=7, description="open days; a day left out is closed")


class OpeningHoursOut(BaseModel):
    site_id: int
    days: list[OpeningDay]
