"""SMS text: GSM 03.38 7-bit or UCS-2, and splitting into concatenated parts.

One SMS carries 160 GSM-7 characters or 70 UCS-2 ones; a longer text goes as parts of
153 / 67 characters, each with a concatenation header (UDH ``05 00 03 ref total seq``)
that the phone uses to join them. Characters of the GSM-7 extension table (``{ } [ ] ~
^ | \\ €``) take two septets and are never split from their escape.

>>> split_sms("Salinmas: Rp 2.640 masuk")
SmsParts(coding='Default_No_Compression', parts=('Salinmas: Rp 2.640 masuk',), udh=('',))
>>> split_sms("Saldo → Rp 1").coding
'Unicode_No_Compression'
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "Default_No_Compression"
UCS2 = "Unicode_No_Compression"


@dataclass(frozen=True, slots=True)
class SmsParts:
    coding: str
    parts: tuple[str, ...]
    #: the concatenation header of each part, as hex ("" for a single SMS)
    udh: tuple[str, ...]


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _cost(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # UTF-16 code units


def split_sms(text: str, *, ref: int = 0) -> SmsParts:
    """``text`` as one SMS or as concatenated parts (``ref`` identifies the set, 0-255)."""
    if not text:
        raise ValueError("an SMS needs some text")
    gsm = is_gsm7(text)
    single, part = (160, 153) if gsm else (70, 67)
    total = sum(_cost(ch, gsm) for ch in text)
    coding = GSM7 if gsm else UCS2
    if total <= single:
        return SmsParts(coding, (text,), ("",))
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = _cost(ch, gsm)
        if used + cost > part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    parts.append("".join(current))
    if len(parts) > 255:
        raise ValueError("text too long for one concatenated SMS")
    ref &= 0xFF
    udh = tuple(f"050003{ref:02X}{len(parts):02X}{i:02X}" for i in range(1, len(parts) + 1))
    return SmsParts(coding, tuple(parts), udh)
