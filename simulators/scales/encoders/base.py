"""What an indicator shows, and the encoder interface every protocol implements.

An :class:`Encoder` is pure: it turns a :class:`Display` (the indicator's state at one
instant) into the exact bytes the indicator sends, and turns a command line the host
sent into an :class:`Action` for the simulator to carry out. It never touches a port.

Adding a protocol means adding one module to :mod:`simulators.scales.encoders` that
defines an encoder class decorated with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal, TypeVar

Mode = Literal["continuous", "polled"]


@dataclass(frozen=True, slots=True)
class Display:
    """The indicator's state at one instant.

    ``weight_g`` is the displayed weight in grams, already rounded to the division
    (net weight when ``tare_g`` is set, else gross). ``overload``/``underload`` mean the
    load is outside the weighing range; the weight is then meaningless.
    """

    weight_g: int
    stable: bool
    division_g: int
    tare_g: int = 0
    overload: bool = False
    underload: bool = False

    @property
    def net(self) -> bool:
        return self.tare_g != 0


class Action(StrEnum):
    """What a host command asks the indicator to do."""

    SEND_NOW = "send_now"  # reply with the current weight, stable or not
    SEND_STABLE = "send_stable"  # reply once stable (or a timeout answer)
    STREAM_ON = "stream_on"  # start continuous output
    STREAM_OFF = "stream_off"  # stop continuous output
    ZERO = "zero"
    TARE = "tare"
    TARE_QUERY = "tare_query"
    CLEAR_TARE = "clear_tare"
    UNKNOWN = "unknown"  # a command the indicator does not understand


class Encoder:
    """One weighing-indicator protocol, seen from the indicator's side."""

    name: ClassVar[str]
    #: (baudrate, bytesize, parity, stopbits) the indicator ships with
    default_line: ClassVar[tuple[int, int, str, int]] = (9600, 8, "N", 1)
    #: output mode when the simulator is not told one
    default_mode: ClassVar[Mode] = "continuous"
    #: display unit ("g", "kg" or "t"); ``None`` picks one from the division
    unit: str | None = None

    def unit_of(self, division_g: int) -> str:
        """The unit this indicator displays."""
        return self.unit or unit_for(division_g)

    def frame(self, display: Display) -> bytes:
        """The frame sent in continuous output (and as the answer to a print command)."""
        raise NotImplementedError

    def command(self, line: bytes) -> Action | None:
        """The action a command line asks for; ``None`` for bytes to ignore silently."""
        del line
        return Action.UNKNOWN

    def reply(self, action: Action, display: Display, *, ok: bool) -> bytes:
        """The answer to ``action`` after the simulator carried it out.

        ``ok`` is False when the action could not be executed (zero or tare while in
        motion, a stable weight that did not come in time). Default: send a frame for
        weight requests, nothing for the rest.
        """
        if action in (Action.SEND_NOW, Action.SEND_STABLE):
            return self.frame(display)
        return b""

    def split_commands(self, data: bytearray) -> Iterator[bytes]:
        """Cut complete command lines off ``data`` (default: CR and/or LF terminated)."""
        while True:
            ends = [p for p in (data.find(b"\r"), data.find(b"\n")) if p >= 0]
            if not ends:
                if len(data) > 256:  # a host that never ends its line: drop the junk
                    del data[:]
                return
            idx = min(ends)
            line = bytes(data[:idx])
            end = idx + 1
            while end < len(data) and data[end] in (0x0A, 0x0D):
                end += 1
            del data[:end]
            if line:
                yield line


# --------------------------------------------------------------------------- registry

ENCODERS: dict[str, type[Encoder]] = {}

E = TypeVar("E", bound=type[Encoder])


def register(cls: E) -> E:
    """Class decorator: make an encoder available by its ``name``."""
    if cls.name in ENCODERS:
        raise ValueError(f"encoder {cls.name!r} registered twice")
    ENCODERS[cls.name] = cls
    return cls


def get_encoder(name: str) -> Encoder:
    """A fresh encoder for protocol ``name`` (the same names as the bridge's parsers)."""
    from simulators.scales import encoders  # noqa: F401  (registers the built-ins)

    try:
        return ENCODERS[name]()
    except KeyError:
        known = ", ".join(sorted(ENCODERS))
        raise ValueError(f"unknown scale protocol {name!r}; known: {known}") from None


# --------------------------------------------------------------------------- numbers


def decimals_for(division_g: int, unit: str) -> int:
    """Decimal places an indicator with division ``d`` shows in ``unit`` (g, kg or t).

    >>> decimals_for(20, "kg"), decimals_for(5, "kg"), decimals_for(100, "kg")
    (2, 3, 1)
    >>> decimals_for(1, "g")
    0
    """
    if division_g <= 0:
        raise ValueError(f"division_g must be positive, got {division_g}")
    scale = {"g": 1, "kg": 1000, "t": 1_000_000}[unit]
    places = 0
    step = Decimal(division_g) / scale
    while step != step.to_integral_value() and places < 6:
        step *= 10
        places += 1
    return places


def magnitude(grams: int, unit: str, places: int) -> str:
    """``abs(grams)`` written in ``unit`` with ``places`` decimals, e.g. ``'12.34'``."""
    scale = {"g": 1, "kg": 1000, "t": 1_000_000}[unit]
    value = Decimal(abs(grams)) / scale
    return f"{value:.{places}f}"


def unit_for(division_g: int) -> str:
    """The unit a scale with division ``d`` displays: ``'g'`` below 10 g, else ``'kg'``.

    Bench balances (d = 1, 2, 5 g) show grams; platform scales (d = 10 g and up) kilograms.
    """
    return "g" if division_g < 10 else "kg"
