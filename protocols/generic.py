"""A configurable line protocol for indicators without a dedicated module.

Each CR/LF-terminated line is matched against a regular expression with named groups:

- ``weight`` (required): the number, sign included (spaces after the sign are allowed);
- ``unit`` (optional): g, kg, t, lb, oz; without it the configured ``unit`` applies;
- ``status`` (optional): compared with ``stable``, ``motion``, ``overload`` and
  ``underload`` value sets; a status outside them is an ERROR;
- ``mode`` (optional): compared with ``gross``/``net``/``tare`` value sets.

Without a ``status`` group the format has no stability flag: readings are STABLE only
if ``assume_stable=True`` (then ``has_stability_flag`` is False and the software window
alone decides), otherwise MOTION, so nothing is captured by accident.

The default pattern reads the common ``ST,GS,+0012.34kg`` / ``US,NT,-  1.20 kg`` style.
Example::

    get_protocol(
        "generic",
        pattern=r"^(?P<status>[SU])\\s+(?P<weight>[-+]?[\\d.]+)\\s*(?P<unit>kg)$",
        stable=("S",),
        motion=("U",),
    )
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from protocols._common import ascii_text, error, weight_reading
from protocols.base import Mode, Reading, ScaleProtocol, Status, register

DEFAULT_PATTERN = (
    r"^(?P<status>ST|US|OL),(?:(?P<mode>GS|NT|TR),)?"
    r"(?P<weight>[+-]?\s*[\d.]+)\s*(?P<unit>[a-z]{1,2})$"
)


@register
class Generic(ScaleProtocol):
    name = "generic"

    def __init__(
        self,
        pattern: str = DEFAULT_PATTERN,
        *,
        unit: str = "kg",
        stable: Iterable[str] = ("ST", "S"),
        motion: Iterable[str] = ("US", "U", "D"),
        overload: Iterable[str] = ("OL", "+"),
        underload: Iterable[str] = ("UL", "-"),
        gross: Iterable[str] = ("GS", "G", "B"),
        net: Iterable[str] = ("NT", "N"),
        tare: Iterable[str] = ("TR", "T"),
        assume_stable: bool = False,
        division_g: int | None = None,
        line: tuple[int, int, str, int] = (9600, 8, "N", 1),
        poll_command: bytes | None = None,
        zero_command: bytes | None = None,
        tare_command: bytes | None = None,
    ) -> None:
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad pattern: {exc}") from None
        if "weight" not in self.regex.groupindex:
            raise ValueError("pattern needs a named group 'weight'")
        if unit not in ("g", "kg", "t", "lb", "oz"):
            raise ValueError(f"unit must be g, kg, t, lb or oz, got {unit!r}")
        if division_g is not None and division_g <= 0:
            raise ValueError(f"division_g must be positive, got {division_g}")
        self.unit = unit
        self.status_map: dict[str, Status] = {}
        for values, status in (
            (stable, Status.STABLE),
            (motion, Status.MOTION),
            (overload, Status.OVERLOAD),
            (underload, Status.UNDERLOAD),
        ):
            self.status_map.update(dict.fromkeys(values, status))
        self.mode_map: dict[str, Mode] = {}
        for values, mode in ((gross, Mode.GROSS), (net, Mode.NET), (tare, Mode.TARE)):
            self.mode_map.update(dict.fromkeys(values, mode))
        self.has_status = "status" in self.regex.groupindex
        self.assume_stable = assume_stable
        self.division_g = division_g
        # instance attributes shadow the ClassVar defaults, per configured indicator
        self.default_line = line  # type: ignore[misc]
        self.poll_command = poll_command  # type: ignore[misc]
        self.zero_command = zero_command  # type: ignore[misc]
        self.tare_command = tare_command  # type: ignore[misc]
        self.has_stability_flag = self.has_status  # type: ignore[misc]

    def parse(self, frame: bytes) -> Reading | None:
        text = ascii_text(frame)
        if text is None or len(text) > 128:
            return error(frame, self.name, "not a printable line")
        m = self.regex.match(text.strip("\r\n"))
        if m is None:
            return error(frame, self.name, "line does not match the pattern")
        groups = m.groupdict()
        if self.has_status:
            status = self.status_map.get((groups.get("status") or "").strip())
            if status is None:
                return error(frame, self.name, f"unknown status {groups.get('status')!r}")
        else:
            status = Status.STABLE if self.assume_stable else Status.MOTION
        mode = self.mode_map.get((groups.get("mode") or "").strip(), Mode.GROSS)
        if status in (Status.OVERLOAD, Status.UNDERLOAD):
            return Reading(status, None, bytes(frame), self.name, mode=mode)
        unit = (groups.get("unit") or self.unit).strip().lower()
        reading = weight_reading(
            frame,
            self.name,
            status=status,
            value=groups["weight"],
            unit=unit,
            mode=mode,
            division_g=self.division_g,
        )
        return reading
