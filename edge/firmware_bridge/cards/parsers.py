"""Card-reader frame parsers (pure: bytes in, card ids out; never raise).

RDM6300 frame (14 bytes)::

    0x02 | 10 ASCII hex: 2 version/customer + 8 tag | 2 ASCII hex checksum | 0x03
    e.g. 02 "0F00A1B2C3" "DF" 03    checksum = XOR of the 5 data bytes 0F^00^A1^B2^C3

The card id is the 10 data hex characters, upper case (``"0F00A1B2C3"``): the whole
EM4100 id, so two cards differing only in the version byte stay distinct. (The number
printed on many cards is the decimal of the last 8 hex digits, ``int(id[2:], 16)``; see
:func:`printed_number`.) A frame with a bad checksum, non-hex characters or a missing ETX
is rejected.

Scanner lines: one code per line (CR, LF or CR LF); surrounding whitespace is stripped,
and the code must match :data:`CARD_ID_PATTERN` (the wire contract's ``card_id``) —
anything else (a URL in a QR code, a control character) is rejected, not guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from protocols.base import FrameBuffer

#: What a card id may look like (the wire contract's ``Weighin.card_id``).
CARD_ID_PATTERN = re.compile(r"^[0-9A-Za-z:_-]{1,64}$")

STX, ETX = 0x02, 0x03
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class CardProtocol:
    """Framing and parsing of one kind of card reader."""

    name: ClassVar[str]
    default_line: ClassVar[tuple[int, int, str, int]] = (9600, 8, "N", 1)

    def frames(self, buffer: FrameBuffer) -> Iterator[bytes]:
        raise NotImplementedError

    def parse(self, frame: bytes) -> str | None:
        """A card id, or ``None`` for a frame that is not a valid read."""
        raise NotImplementedError


class Rdm6300(CardProtocol):
    name = "rdm6300"
    FRAME_LEN = 14

    def frames(self, buffer: FrameBuffer) -> Iterator[bytes]:
        data = buffer.data
        while data:
            start = data.find(bytes([STX]))
            if start != 0:
                junk = bytes(data if start < 0 else data[:start])
                del data[: len(junk)]
                yield junk
                continue
            if len(data) < self.FRAME_LEN:
                return
            if data[self.FRAME_LEN - 1] == ETX:
                frame = bytes(data[: self.FRAME_LEN])
                del data[: self.FRAME_LEN]
                yield frame
                continue
            nxt = data.find(bytes([STX]), 1)
            cut = nxt if nxt > 0 else len(data)
            junk = bytes(data[:cut])
            del data[:cut]
            yield junk

    def parse(self, frame: bytes) -> str | None:
        if len(frame) != self.FRAME_LEN or frame[0] != STX or frame[-1] != ETX:
            return None
        body = frame[1:13]
        if not all(b in _HEX for b in body):
            return None
        values = bytes.fromhex(body.decode("ascii"))
        expected = 0
        for b in values[:5]:
            expected ^= b
        if values[5] != expected:
            return None
        return body[:10].decode("ascii").upper()


def printed_number(card_id: str) -> int:
    """The decimal number printed on most EM4100 cards: the last 8 hex digits."""
    return int(card_id[-8:], 16)


class LineScanner(CardProtocol):
    name = "scanner"
    MAX_LINE = 256

    def frames(self, buffer: FrameBuffer) -> Iterator[bytes]:
        data = buffer.data
        while True:
            ends = [i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0]
            if not ends:
                if len(data) > self.MAX_LINE:  # a line that never ends is noise
                    junk = bytes(data)
                    data.clear()
                    yield junk
                return
            end = min(ends)
            line = bytes(data[:end])
            del data[: end + 1]
            if line:
                yield line

    def parse(self, frame: bytes) -> str | None:
        try:
            text = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            return None
        return text if CARD_ID_PATTERN.match(text) else None


CARD_PROTOCOLS: dict[str, type[CardProtocol]] = {"rdm6300": Rdm6300, "scanner": LineScanner}


def get_card_protocol(kind: str) -> CardProtocol:
    try:
        return CARD_PROTOCOLS[kind]()
    except KeyError:
        known = ", ".join(sorted(CARD_PROTOCOLS))
        raise ValueError(f"unknown card reader kind {kind!r}; known: {known}") from None
