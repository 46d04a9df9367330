"""Weighing-indicator protocols: pure frame parsers, one module each, registered by name.

The ground floor beside ``contract`` (standard library only): the edge agent reads its
scale through them (``edge.firmware_bridge.transport``) and the cloud re-parses the raw
frames of every signed weigh-in with the same module before crediting it. Importing
this package registers the built-ins; :mod:`protocols.base` holds the shared types.

Adding a protocol means adding one module here (and its ``tests/data/<name>/`` cases).

=================  =============================================================
name               indicator family
=================  =============================================================
``mtsics``         Mettler Toledo MT-SICS balances and weigh modules
``and_balance``    A&D balances (GX/GF/FX-i/EK), "ST,+00123.45  g"
``and_indicator``  A&D indicators (AD-4406/AD-4404), "ST,GS,+0012.34kg"
``cas22``          CAS indicators, 22-byte format with the lamp byte
``cas10``          CAS indicators, 10-byte format (no stability flag)
``toledo``         Mettler Toledo continuous output (STX, status words, checksum)
``ohaus``          OHAUS balances and indicators
``sartorius``      Sartorius SBI, 16- and 22-character lines
``generic``        any line format described by a regular expression
=================  =============================================================
"""

from protocols import and_, cas, generic, mtsics, ohaus, sartorius, toledo
from protocols.base import (
    FrameBuffer,
    Mode,
    Reading,
    ScaleProtocol,
    Status,
    get_protocol,
    protocol_names,
    register,
    to_grams,
)

__all__ = [
    "FrameBuffer",
    "Mode",
    "Reading",
    "ScaleProtocol",
    "Status",
    "and_",
    "cas",
    "generic",
    "get_protocol",
    "mtsics",
    "ohaus",
    "protocol_names",
    "register",
    "sartorius",
    "to_grams",
    "toledo",
]
