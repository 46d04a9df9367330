"""ORM models of the cloud (one module per domain area, one shared :class:`Base`).

Importing this package registers the domain tables on ``Base.metadata``;
:func:`load_all` also imports every other module of the package (e.g. the API's), so
migrations and the schema-drift test see the whole schema.
"""

import importlib
import pkgutil

from cloud.models.base import Base, UtcDateTime, utcnow
from cloud.models.bins import OPEN_PICKUP_STATES, Alert, Bin, FillSample, Pickup
from cloud.models.deadletters import MAX_KEPT_PAYLOAD, DeadLetter
from cloud.models.devices import DEFAULT_CAPACITY_G, Device
from cloud.models.integrity import (
    Approval,
    ConfigLogEntry,
    DeviceBoot,
    DeviceKey,
    Hold,
    LedgerChainHead,
)
from cloud.models.ledger import (
    Account,
    AppendOnlyError,
    Household,
    JournalEntry,
    MemberCard,
    Posting,
    Price,
    ProcessedEvent,
    Site,
    WasteCategory,
    WeighinRecord,
)

__all__ = [
    "DEFAULT_CAPACITY_G",
    "MAX_KEPT_PAYLOAD",
    "OPEN_PICKUP_STATES",
    "Account",
    "Alert",
    "AppendOnlyError",
    "Approval",
    "Base",
    "Bin",
    "ConfigLogEntry",
    "DeadLetter",
    "Device",
    "DeviceBoot",
    "DeviceKey",
    "FillSample",
    "Hold",
    "Household",
    "JournalEntry",
    "LedgerChainHead",
    "MemberCard",
    "Pickup",
    "Posting",
    "Price",
    "ProcessedEvent",
    "Site",
    "UtcDateTime",
    "WasteCategory",
    "WeighinRecord",
    "utcnow",
]


def load_all() -> None:
    """Import every module of :mod:`cloud.models`, registering all tables."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
