"""Frame encoders, one module per indicator protocol; importing this registers them all.

The names are the bridge's parser names (``protocols``), so a
simulator of protocol ``x`` is read by the bridge's driver ``x``.
"""

from simulators.scales.encoders import (
    and_balance,
    and_indicator,
    cas,
    mtsics,
    ohaus,
    sartorius,
    toledo,
)
from simulators.scales.encoders.base import (
    ENCODERS,
    Action,
    Display,
    Encoder,
    get_encoder,
    register,
)

__all__ = [
    "ENCODERS",
    "Action",
    "Display",
    "Encoder",
    "and_balance",
    "and_indicator",
    "cas",
    "get_encoder",
    "mtsics",
    "ohaus",
    "register",
    "sartorius",
    "toledo",
]
