"""Shared types of the indicator protocols: readings, frame parsers and their registry.

Pure (``bytes -> Reading``, no I/O, standard library only), so the edge agent reads its
scale with these parsers and the cloud re-parses a weigh-in's raw frames with the very
same ones before crediting it (:mod:`cloud.integrity`).

A protocol module defines a :class:`ScaleProtocol` subclass and registers it::

    @register
    class MtSics(ScaleProtocol):
        name = "mtsics"
        ...

Parsers never raise on input bytes: a frame that is not understood becomes a
:class:`Reading` with ``status=Status.ERROR`` (or is skipped while resynchronising).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar


class Status(StrEnum):
    STABLE = "stable"
    MOTION = "motion"
    OVERLOAD = "overload"
    UNDERLOAD = "underload"
    ERROR = "error"  # a frame that parsed as an error/garbage/bad checksum


class Mode(StrEnum):
    GROSS = "gross"
    NET = "net"
    TARE = "tare"


@dataclass(frozen=True, slots=True)
class Reading:
    """One weight frame from an indicator, normalised to integer grams.

    ``grams`` is ``None`` when the frame carries no usable weight (overload, error).
    ``division_g`` is the scale division d in grams when the frame (or the configuration)
    tells it, else ``None``. ``raw`` is the exact frame bytes, kept for audit.
    """

    status: Status
    grams: int | None
    raw: bytes
    protocol: str
    mode: Mode = Mode.GROSS
    tare_g: int | None = None
    division_g: int | None = None
    unit: str = "g"
    detail: str = ""

    @property
    def stable(self) -> bool:
        return self.status is Status.STABLE

    @property
    def negative(self) -> bool:
        return self.grams is not None and self.grams < 0


@dataclass(slots=True)
class FrameBuffer:
    """Accumulates bytes from a port and yields complete frames; bounded, resyncs on junk."""

    limit: int = 4096
    data: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]


class ScaleProtocol:
    """A weighing-indicator protocol: framing, parsing and (optional) commands."""

    name: ClassVar[str]
    #: pyserial line settings tried first (baudrate, bytesize, parity, stopbits)
    default_line: ClassVar[tuple[int, int, str, int]] = (9600, 8, "N", 1)
    #: command that asks for one weight (polled mode), or None for continuous-only
    poll_command: ClassVar[bytes | None] = None
    zero_command: ClassVar[bytes | None] = None
    tare_command: ClassVar[bytes | None] = None
    #: False for formats without a stability flag (CAS 10-byte): their STABLE readings
    #: rest on the software window alone, which the capture then makes longer
    #: (``edge.capture.UNFLAGGED_WINDOW_FACTOR``).
    has_stability_flag: ClassVar[bool] = True

    def frames(self, buffer: FrameBuffer) -> Iterator[bytes]:
        """Cut complete frames off the front of ``buffer`` (default: CR/LF lines)."""
        while True:
            idx = _first_eol(buffer.data)
            if idx < 0:
                return
            line = bytes(buffer.data[:idx])
            end = idx + 1
            while end < len(buffer.data) and buffer.data[end] in (0x0A, 0x0D):
                end += 1
            del buffer.data[:end]
            if line:
                yield line

    def parse(self, frame: bytes) -> Reading | None:
        """One frame -> a reading, or ``None`` for a frame that carries no weight (ack)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget state learnt from earlier frames (called when the port is reopened:
        the indicator may have been power-cycled meanwhile). Default: nothing to forget."""


def _first_eol(data: bytearray) -> int:
    positions = [p for p in (data.find(b"\r"), data.find(b"\n")) if p >= 0]
    return min(positions) if positions else -1


REGISTRY: dict[str, type[ScaleProtocol]] = {}

P = TypeVar("P", bound=type[ScaleProtocol])


def register(cls: P) -> P:
    """Class decorator: make a protocol available by its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"protocol {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_protocol(name: str, **options: Any) -> ScaleProtocol:
    """An instance of the protocol registered as ``name`` (imports all built-in ones).

    ``options`` go to the protocol's constructor (e.g. ``checksum=True`` for "toledo",
    ``pattern=...`` for "generic"); a wrong option raises ``ValueError``.
    """
    import protocols  # noqa: F401  (registers the built-ins)

    try:
        cls = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown scale protocol {name!r}; known: {known}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for scale protocol {name!r}: {exc}") from None


def protocol_names() -> list[str]:
    """Names of all registered protocols (imports the built-in ones)."""
    import protocols  # noqa: F401  (registers the built-ins)

    return sorted(REGISTRY)


def to_grams(value: float | str, unit: str) -> int:
    """Convert a weight in ``unit`` (g, kg, t, mg, lb, oz, ozt, ct) to integer grams, half up.

    Raises ``KeyError`` for an unknown unit and ``decimal.InvalidOperation`` for a value
    that is not a number; parsers use :func:`protocols._common.grams`,
    which returns ``None`` instead.
    """
    from decimal import ROUND_HALF_UP, Decimal

    factors = {
        "g": Decimal(1),
        "kg": Decimal(1000),
        "t": Decimal(1_000_000),
        "lb": Decimal("453.59237"),
        "oz": Decimal("28.349523125"),
        "mg": Decimal("0.001"),
        "ct": Decimal("0.2"),
        "ozt": Decimal("31.1034768"),
    }
    factor = factors[unit.strip().lower()]
    return int((Decimal(str(value)) * factor).to_integral_value(rounding=ROUND_HALF_UP))
