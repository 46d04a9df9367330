"""The rules of pickups at the door: bounds, the ``[api.doorstep]`` settings, the error."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from cloud.errors import LedgerError

#: a phone's own id: ``ph-`` and what the phone drew at random when installed
PHONE_ID = re.compile(r"^ph-[a-z0-9]{8,40}$")
#: most weigh-ins one completion may carry
MAX_LINES = 20
#: the heaviest bag one line may weigh (a hanging scale on a motorbike: 200 kg)
MAX_LINE_G = 200_000
#: a photo of a bag, at most (the phone shrinks it before queueing)
MAX_PHOTO_BYTES = 400_000
#: how far ahead a household may ask for a pickup
MAX_AHEAD = timedelta(days=14)
MIN_WINDOW = timedelta(minutes=30)


class DoorstepSettings(BaseModel):
    """The ``[api.doorstep]`` section: household requests and their stops on routes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the least a household may ask to have picked up (its estimate), grams
    min_pickup_g: int = Field(default=2_000, ge=0, le=MAX_LINE_G)
    #: the estimate per category when the household gives none, grams
    estimate_g_per_category: int = Field(default=3_000, ge=1, le=MAX_LINE_G)
    #: minutes at a household's door, and at a full bin
    service_s: int = Field(default=300, ge=0, le=7200)
    bin_service_s: int = Field(default=600, ge=0, le=7200)
    #: what a full bin is expected to weigh (a stop of a collector who empties bins)
    bin_estimate_g: int = Field(default=15_000, ge=1, le=1_000_000)
    #: a collector this much behind the plan's next start gets a new plan
    late_after_s: int = Field(default=900, ge=60, le=24 * 3600)


class DoorstepError(LedgerError):
    """A doorstep rule refused the request; ``field`` names the input at fault (422)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
