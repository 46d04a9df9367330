"""Serial protocols of weighing indicators and card readers, and sensor drivers.

Parsers are pure (``bytes -> Reading``, no I/O) and registered by name; transports own
a serial port or pins. See :mod:`edge.firmware_bridge.base`.
"""

from edge.firmware_bridge.base import (
    FrameBuffer,
    Mode,
    Reading,
    ScaleProtocol,
    Status,
    get_protocol,
    register,
    to_grams,
)

__all__ = [
    "FrameBuffer",
    "Mode",
    "Reading",
    "ScaleProtocol",
    "Status",
    "get_protocol",
    "register",
    "to_grams",
]
