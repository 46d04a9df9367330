"""Member-card readers on a pseudo-terminal: RDM6300 125 kHz readers and barcode scanners.

RDM6300 (and the EM4100 UART readers like it), 9600 8N1, 14 bytes per read::

    STX  D D D D D D D D D D  C C  ETX
    0x02 10 ASCII hex digits   2 hex  0x03

The 10 data digits are the card's 5 bytes (a version/customer byte and the 32-bit tag
number printed in decimal on the card); the checksum is the XOR of those 5 bytes, as
2 ASCII hex digits. A reader sends the frame again about every 50 ms while the card is
in the field, so one tap gives several identical frames (the bridge debounces them).
Source: the RDM6300 module's data sheet ("data format: 02, 10 ASCII data characters,
2 ASCII checksum, 03") and the Hobby Components decoding notes (a captured frame and its
XOR checksum): https://forum.hobbycomponents.com/viewtopic.php?f=82&p=7544

Barcode/QR scanners in serial "line" mode send the code followed by CR LF.

Example::

    with PtyDevice(tmp, name="usb-Sim_RFID-if00") as dev, CardReaderSimulator(dev) as reader:
        reader.present("1000086F44")     # STX 1000086F44 <xor> ETX, three times
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from typing import Literal

from simulators._io import DeviceWriter, SerialDevice, on_sigterm

STX = 0x02
ETX = 0x03

#: "line" (the agent's config name) and "scanner" (the bridge's) are the same line mode
CardKind = Literal["rdm6300", "line", "scanner"]

_HEX10 = re.compile(r"^[0-9A-Fa-f]{10}$")


def card_id_from_tag(tag: int, version: int = 0x00) -> str:
    """The 10-hex-digit id of a card whose printed number is ``tag`` (0 .. 2**32-1)."""
    if not 0 <= tag < 2**32:
        raise ValueError(f"tag must fit in 32 bits, got {tag}")
    if not 0 <= version < 256:
        raise ValueError(f"version must be a byte, got {version}")
    return f"{version:02X}{tag:08X}"


def rdm6300_checksum(card_id: str) -> int:
    """XOR of the 5 bytes the 10 hex digits stand for."""
    value = 0
    for i in range(0, 10, 2):
        value ^= int(card_id[i : i + 2], 16)
    return value


def rdm6300_frame(card_id: str, *, bad_checksum: bool = False) -> bytes:
    """The 14-byte frame an RDM6300 sends for ``card_id`` (10 hex digits)."""
    if not _HEX10.match(card_id):
        raise ValueError(f"an RDM6300 card id is 10 hex digits, got {card_id!r}")
    card_id = card_id.upper()
    check = rdm6300_checksum(card_id)
    if bad_checksum:
        check ^= 0x5A
    return bytes([STX]) + f"{card_id}{check:02X}".encode("ascii") + bytes([ETX])


def barcode_line(code: str, terminator: bytes = b"\r\n") -> bytes:
    """What a line-mode scanner sends for ``code`` (printable ASCII only)."""
    if not code or not code.isprintable() or not code.isascii():
        raise ValueError(f"a barcode is non-empty printable ASCII, got {code!r}")
    return code.encode("ascii") + terminator


class CardReaderSimulator:
    """A card reader of ``kind`` on ``device``; :meth:`present` taps a card."""

    def __init__(
        self,
        device: SerialDevice,
        *,
        kind: CardKind = "rdm6300",
        repeats: int = 3,
        seed: int = 0,
    ) -> None:
        if kind not in ("rdm6300", "line", "scanner"):
            raise ValueError(f"kind must be 'rdm6300', 'line' or 'scanner', got {kind!r}")
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        self.device = device
        self.kind: CardKind = kind
        self.repeats = repeats
        self._rng = random.Random(seed)
        self._writer = DeviceWriter(device, name=f"cards-{kind}")
        self.presented = 0

    def frame(self, card_id: str) -> bytes:
        """One read of ``card_id`` as this reader sends it."""
        return rdm6300_frame(card_id) if self.kind == "rdm6300" else barcode_line(card_id)

    def present(self, card_id: str, *, repeats: int | None = None) -> bytes:
        """Hold ``card_id`` to the reader: its frame, sent ``repeats`` times (RDM6300)."""
        frame = self.frame(card_id)
        count = (repeats or self.repeats) if self.kind == "rdm6300" else 1
        self._writer.send(frame * count)
        self.presented += 1
        return frame

    def present_bad_checksum(self, card_id: str) -> bytes:
        """A corrupted read (RDM6300): the right digits with a wrong checksum."""
        frame = rdm6300_frame(card_id, bad_checksum=True)
        self._writer.send(frame)
        return frame

    def inject_garbage(self, data: bytes | None = None) -> bytes:
        """Line noise (random bytes unless ``data`` is given)."""
        if data is None:
            data = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(3, 16)))
        self._writer.send(data)
        return data

    def flushed(self) -> bool:
        return self._writer.idle()

    def close(self) -> None:
        """Stop the writer thread (the device stays open; closing it is the owner's job)."""
        self._writer.close()

    def __enter__(self) -> CardReaderSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    """``salinmas sim cards``: a card reader on a pty; type card ids to tap them."""

    parser = argparse.ArgumentParser(
        prog="salinmas sim cards",
        description=(
            "Simulate a member-card reader on a pseudo-terminal. Point a station's "
            "card_port at the printed path, then type a card id (10 hex digits, e.g. "
            "1000086F44) and Enter to tap it; 'bad <id>' sends a corrupted read, "
            "'garbage' line noise; Ctrl-D or Ctrl-C quits."
        ),
    )
    parser.add_argument(
        "--dir", default=tempfile.gettempdir(), help="directory for the stable symlink"
    )
    parser.add_argument("--name", default="usb-Salinmas_Sim_RFID-if00-port0")
    parser.add_argument("--kind", choices=["rdm6300", "line", "scanner"], default="rdm6300")
    parser.add_argument("--repeats", type=int, default=3, help="frames per tap (RDM6300)")
    parser.add_argument("--card", action="append", default=[], help="tap this card at start")
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the devices are closed on the way out
        return 0


def _run(args: argparse.Namespace) -> int:
    from simulators.pty import PtyDevice

    with (
        on_sigterm(),
        PtyDevice(args.dir, name=args.name) as dev,
        CardReaderSimulator(dev, kind=args.kind, repeats=args.repeats) as reader,
    ):
        print(f"card reader ({args.kind}) at {dev.path}", flush=True)
        for card in args.card:
            reader.present(card)
        try:
            while True:
                line = input().strip()
                if not line:
                    continue
                try:
                    if line == "garbage":
                        reader.inject_garbage()
                    elif line.startswith("bad "):
                        reader.present_bad_checksum(line[4:].strip())
                    else:
                        reader.present(line)
                except ValueError as exc:
                    print(f"error: {exc}", flush=True)
        except EOFError:
            pass
    return 0
