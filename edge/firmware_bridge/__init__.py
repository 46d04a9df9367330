"""The edge's hardware: serial transports, card readers and sensor drivers.

The indicator parsers themselves are pure and live in the top-level :mod:`protocols`
package (the cloud re-parses frames with them); their names are re-exported here for
the transports' users.
"""

from protocols.base import (
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
