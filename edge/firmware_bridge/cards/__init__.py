"""Member-card readers: pure frame parsers plus :class:`CardReader`, which owns the port.

=============  ===============================================================
kind           device
=============  ===============================================================
``rdm6300``    125 kHz EM4100 UART readers (RDM6300 and clones), 9600 8N1
``scanner``    serial barcode/QR scanners in line mode (CR and/or LF), 9600 8N1
=============  ===============================================================
"""

from edge.firmware_bridge.cards.parsers import (
    CARD_ID_PATTERN,
    CARD_PROTOCOLS,
    CardProtocol,
    LineScanner,
    Rdm6300,
    get_card_protocol,
)
from edge.firmware_bridge.cards.reader import CardReader

__all__ = [
    "CARD_ID_PATTERN",
    "CARD_PROTOCOLS",
    "CardProtocol",
    "CardReader",
    "LineScanner",
    "Rdm6300",
    "get_card_protocol",
]
