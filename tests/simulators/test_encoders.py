"""Frame encoders produce the manufacturers' documented frames, byte for byte.

Each case names its source. Where a manual's example uses a resolution finer than a
gram (``100.00 g``), the same frame layout is checked in kilograms with an integer-gram
division, since the system weighs in integer grams.
"""

from __future__ import annotations

import pytest

from simulators.scales.encoders import Action, Display, get_encoder
from simulators.scales.encoders.base import decimals_for
from simulators.scales.encoders.toledo import checksum

CASES = [
    # MT-SICS reference manual: "S S     100.00 g" (10-character right-aligned weight)
    ("mtsics", {}, Display(100_000, True, 10), b"S S     100.00 kg\r\n"),
    ("mtsics", {}, Display(100_010, False, 10), b"S D     100.01 kg\r\n"),
    ("mtsics", {}, Display(-60, True, 20), b"S S      -0.06 kg\r\n"),
    ("mtsics", {}, Display(0, False, 20, overload=True), b"S +\r\n"),
    ("mtsics", {}, Display(0, False, 20, underload=True), b"S -\r\n"),
    ("mtsics", {}, Display(1234, True, 1), b"S S       1234 g\r\n"),
    # A&D GC series 16.2: "ST,+0001.234 kg" (A&D standard format, d = 1 g in kg)
    ("and_balance", {"unit": "kg"}, Display(1234, True, 1), b"ST,+0001.234 kg\r\n"),
    ("and_balance", {"unit": "kg"}, Display(1234, False, 1), b"US,+0001.234 kg\r\n"),
    ("and_balance", {}, Display(12345, True, 1), b"ST,+00012345  g\r\n"),
    ("and_balance", {}, Display(-12300, True, 10), b"ST,-00012.30 kg\r\n"),
    # AD-4212D: "OL,+9999999E+19"
    ("and_balance", {}, Display(0, False, 10, overload=True), b"OL,+9999999E+19\r\n"),
    ("and_balance", {}, Display(0, False, 10, underload=True), b"OL,-9999999E+19\r\n"),
    # A&D AD-4404 9.2.6 "ST,NT,+0012.34kg"; OP-05 "ST,GS,+0123.45kg", "OL,GS,+    .  kg"
    ("and_indicator", {}, Display(12_340, True, 10, tare_g=500), b"ST,NT,+0012.34kg\r\n"),
    ("and_indicator", {}, Display(123_450, True, 10), b"ST,GS,+0123.45kg\r\n"),
    ("and_indicator", {}, Display(123_450, False, 10), b"US,GS,+0123.45kg\r\n"),
    ("and_indicator", {}, Display(0, False, 10, overload=True), b"OL,GS,+    .  kg\r\n"),
    ("and_indicator", {}, Display(-2_340, True, 10), b"ST,GS,-0002.34kg\r\n"),
    # CAS manuals: "13.5 kg -> '0','0','0','0','1','3','.','5'"; lamp bit7=1, bit6 stable,
    # bit2 gross, bit1 tare, bit0 zero; device 01 = 0x31
    ("cas22", {}, Display(13_500, True, 100), b"ST,GS,1\xc4,000013.5 kg\r\n"),
    ("cas22", {}, Display(13_500, False, 100), b"US,GS,1\x84,000013.5 kg\r\n"),
    ("cas22", {}, Display(13_500, True, 100, tare_g=1_000), b"ST,NT,1\xc2,000013.5 kg\r\n"),
    ("cas22", {}, Display(0, True, 100), b"ST,GS,1\xc5,000000.0 kg\r\n"),
    ("cas22", {}, Display(160_000, False, 100, overload=True), b"OL,GS,1\x84,000160.0 kg\r\n"),
    ("cas22", {}, Display(-200, True, 100), b"ST,GS,1\xc4,-00000.2 kg\r\n"),
    ("cas10", {}, Display(13_500, True, 100), b"000013.5\r\n"),
    ("cas10", {}, Display(-200, True, 100), b"-00000.2\r\n"),
    # OHAUS RS232 manual: "     192.21 g" and "       0.01 g ?" (shown here in kg)
    ("ohaus", {}, Display(192_210, True, 10), b"     192.21 kg\r\n"),
    ("ohaus", {}, Display(10, False, 10), b"       0.01 kg ?\r\n"),
    ("ohaus", {}, Display(-10, True, 10), b"      -0.01 kg\r\n"),
    # Sartorius FB series: "+   1255.7 g  " (16) and "N     " + 16 (22); unit blank unstable
    ("sartorius", {}, Display(1_255_700, True, 100), b"+   1255.7 kg \r\n"),
    ("sartorius", {"unit": "g"}, Display(1255, True, 1), b"+     1255 g  \r\n"),
    ("sartorius", {}, Display(1_255_700, False, 100), b"+   1255.7    \r\n"),
    ("sartorius", {}, Display(-1_255_700, True, 100), b"-   1255.7 kg \r\n"),
    ("sartorius22", {}, Display(1_255_700, True, 100), b"N     +   1255.7 kg \r\n"),
    ("sartorius22", {}, Display(0, False, 100, overload=True), b"Stat        H       \r\n"),
    ("sartorius", {}, Display(0, False, 100, overload=True), b"      H       \r\n"),
    ("sartorius22", {}, Display(0, False, 100, underload=True), b"Stat        L       \r\n"),
]


@pytest.mark.parametrize(("protocol", "options", "display", "expected"), CASES)
def test_documented_frames(
    protocol: str, options: dict[str, str], display: Display, expected: bytes
) -> None:
    encoder = get_encoder(protocol)
    for key, value in options.items():
        setattr(encoder, key, value)
    frame = encoder.frame(display)
    assert frame == expected


@pytest.mark.parametrize("protocol", ["and_balance", "and_indicator", "cas22"])
def test_fixed_length_formats(protocol: str) -> None:
    lengths = {"and_balance": 17, "and_indicator": 18, "cas22": 22}
    encoder = get_encoder(protocol)
    for grams in (0, 20, 3_120, 99_980, -40):
        assert len(encoder.frame(Display(grams, True, 20))) == lengths[protocol]


def test_sartorius_lengths() -> None:
    for grams in (0, 20, 3_120, -40):
        assert len(get_encoder("sartorius").frame(Display(grams, True, 20))) == 16
        assert len(get_encoder("sartorius22").frame(Display(grams, False, 20))) == 22


# -------------------------------------------------------------------------- Toledo


def _status_bits(frame: bytes) -> tuple[int, int, int]:
    return frame[1], frame[2], frame[3]


def test_toledo_frame_layout_and_checksum() -> None:
    frame = get_encoder("toledo").frame(Display(12_340, True, 20))
    # STX, SWA = 0x20 | 100 (XXXX.XX) | 10<<3 (x2), SWB = 0x20 | kg, SWC = 0x20
    assert frame[:17] == b"\x02\x34\x30\x20001234000000\r"
    assert frame[17] == (-sum(b & 0x7F for b in frame[:17])) & 0x7F
    assert sum(b & 0x7F for b in frame) % 128 == 0


def test_toledo_status_words() -> None:
    enc = get_encoder("toledo")
    _, swb, _ = _status_bits(enc.frame(Display(500, False, 20, tare_g=1_000)))
    assert swb & 0x01
    assert swb & 0x08
    assert swb & 0x10  # kg
    _, swb, _ = _status_bits(enc.frame(Display(-500, True, 20)))
    assert swb & 0x02
    assert not swb & 0x08
    _, swb, _ = _status_bits(enc.frame(Display(0, False, 20, overload=True)))
    assert swb & 0x04  # out of range
    swa, _, _ = _status_bits(enc.frame(Display(12_345, True, 5)))
    assert swa == 0x20 | 0b101 | (0b11 << 3)  # XXX.XXX, x5


def test_toledo_without_checksum_and_tare_digits() -> None:
    enc = get_encoder("toledo")
    enc.with_checksum = False  # type: ignore[attr-defined]
    frame = enc.frame(Display(2_000, True, 10, tare_g=1_500))
    # d = 10 g: XXXX.XX, x1 -> SWA = 0x20 | 0b100 | 0b01 << 3 = 0x2C; net -> SWB 0x31
    assert frame == b"\x02\x2c\x31\x20000200000150\r"


def test_toledo_checksum_function() -> None:
    # the sum of the 7-bit values of a frame plus its checksum is 0 modulo 128
    body = b"\x0240 000312000000\r"
    assert (sum(body) + checksum(body)) % 128 == 0


# -------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("protocol", "line", "action"),
    [
        ("mtsics", b"S", Action.SEND_STABLE),
        ("mtsics", b"SI", Action.SEND_NOW),
        ("mtsics", b"SIR", Action.STREAM_ON),
        ("mtsics", b"Z", Action.ZERO),
        ("mtsics", b"T", Action.TARE),
        ("mtsics", b"TA", Action.TARE_QUERY),
        ("mtsics", b"XYZ", Action.UNKNOWN),
        ("and_balance", b"Q", Action.SEND_NOW),
        ("and_balance", b"S", Action.SEND_STABLE),
        ("and_indicator", b"RW", Action.SEND_NOW),
        ("and_indicator", b"MT", Action.TARE),
        ("ohaus", b"IP", Action.SEND_NOW),
        ("ohaus", b"SP", Action.SEND_STABLE),
        ("ohaus", b"CP", Action.STREAM_ON),
        ("toledo", b"P", Action.SEND_NOW),
        ("sartorius", b"\x1bP", Action.SEND_NOW),
        ("sartorius", b"\x1bf3_", Action.ZERO),
        ("cas22", b"anything", None),
    ],
)
def test_commands(protocol: str, line: bytes, action: Action | None) -> None:
    assert get_encoder(protocol).command(line) == action


def test_mtsics_replies() -> None:
    enc = get_encoder("mtsics")
    moving = Display(3_120, False, 20)
    tared = Display(0, True, 20, tare_g=1_000)
    assert enc.reply(Action.SEND_STABLE, moving, ok=False) == b"S I\r\n"
    assert enc.reply(Action.ZERO, moving, ok=False) == b"Z I\r\n"
    assert enc.reply(Action.ZERO, tared, ok=True) == b"Z A\r\n"
    assert enc.reply(Action.TARE, tared, ok=True) == b"T S       1.00 kg\r\n"
    assert enc.reply(Action.TARE_QUERY, tared, ok=True) == b"TA A       1.00 kg\r\n"
    assert enc.reply(Action.UNKNOWN, tared, ok=True) == b"ES\r\n"


def test_command_splitting() -> None:
    enc = get_encoder("mtsics")
    buf = bytearray(b"SI\r\nZ\r\nT")
    assert list(enc.split_commands(buf)) == [b"SI", b"Z"]
    assert buf == b"T"
    sbi = get_encoder("sartorius")
    buf = bytearray(b"junk\x1bP\x1bf3_\r\n\x1bf")
    assert list(sbi.split_commands(buf)) == [b"\x1bP", b"\x1bf3_"]
    assert buf == b"\x1bf"


def test_decimals_for() -> None:
    assert [decimals_for(d, "kg") for d in (1, 2, 5, 10, 20, 50, 100, 1000)] == [
        3,
        3,
        3,
        2,
        2,
        2,
        1,
        0,
    ]


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown scale protocol"):
        get_encoder("nope")
