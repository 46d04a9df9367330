"""Switches, buttons, LEDs and buzzer of bins and scale stations (gpiozero devices).

Wiring: switches and buttons between the GPIO pin and GND (internal pull-up on);
LEDs through a 330 Ohm resistor to GND; an active buzzer through a transistor.

Example::

    lid = LidSwitch(17)                     # reed switch, closed while the lid is shut
    feedback = StationFeedback(green_pin=5, red_pin=6, buzzer_pin=13)
    buttons = CategoryButtons({20: "organic", 21: "plastic-pet"}, on_select=print)
    feedback.signal("ok")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import LED, Button, Buzzer

_SLUG = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")  # the wire contract's category code


class LidSwitch:
    """A reed or micro switch on a bin lid.

    By default the switch is *closed while the lid is shut* (magnet at the switch), so
    an open lid and a cut wire read the same: open — the safe reading for a bin.
    """

    def __init__(
        self,
        pin: Any,
        *,
        closed_when_shut: bool = True,
        bounce_time_s: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        self._button = Button(pin, pull_up=True, bounce_time=bounce_time_s, pin_factory=pin_factory)
        self._closed_when_shut = closed_when_shut

    @property
    def is_open(self) -> bool:
        pressed = bool(self._button.is_pressed)
        return not pressed if self._closed_when_shut else pressed

    def close(self) -> None:
        self._button.close()


class TiltSwitch:
    """A ball/mercury tilt switch: ``tilted`` while the bin is knocked over."""

    def __init__(
        self,
        pin: Any,
        *,
        closed_when_upright: bool = True,
        bounce_time_s: float | None = 0.1,
        pin_factory: Any = None,
    ) -> None:
        self._button = Button(pin, pull_up=True, bounce_time=bounce_time_s, pin_factory=pin_factory)
        self._closed_when_upright = closed_when_upright

    @property
    def tilted(self) -> bool:
        pressed = bool(self._button.is_pressed)
        return not pressed if self._closed_when_upright else pressed

    def close(self) -> None:
        self._button.close()


@dataclass(frozen=True)
class Pattern:
    """A feedback signal as data: which LED blinks how, and how the buzzer beeps."""

    led: str  # "green", "red" or "both"
    on_s: float
    off_s: float
    blinks: int
    beep_on_s: float
    beep_off_s: float
    beeps: int


#: The station's signals: weigh-in accepted, error, refused (e.g. unknown card blocked),
#: recorded as unassigned (no/unknown card), card read.
PATTERNS: dict[str, Pattern] = {
    "ok": Pattern("green", 0.6, 0.1, 1, 0.1, 0.1, 1),
    "error": Pattern("red", 0.2, 0.2, 5, 0.4, 0.2, 3),
    "refused": Pattern("red", 0.5, 0.2, 2, 0.8, 0.1, 1),
    "unassigned": Pattern("both", 0.3, 0.3, 3, 0.1, 0.1, 2),
    "card": Pattern("green", 0.05, 0.05, 2, 0.05, 0.05, 1),
}


class StationFeedback:
    """Green and red LEDs and a buzzer; :meth:`signal` plays a named :data:`PATTERNS` entry."""

    def __init__(
        self,
        *,
        green_pin: Any,
        red_pin: Any,
        buzzer_pin: Any | None = None,
        pin_factory: Any = None,
    ) -> None:
        opened: list[Any] = []
        try:
            self.green = LED(green_pin, pin_factory=pin_factory)
            opened.append(self.green)
            self.red = LED(red_pin, pin_factory=pin_factory)
            opened.append(self.red)
            self.buzzer = (
                Buzzer(buzzer_pin, pin_factory=pin_factory) if buzzer_pin is not None else None
            )
        except BaseException:
            for device in opened:
                device.close()
            raise

    def signal(self, pattern: str) -> None:
        """Play ``pattern`` ("ok", "error", "refused", "unassigned", "card").

        Plays in gpiozero's background threads (the caller never blocks); a new signal
        replaces one still playing.
        """
        try:
            p = PATTERNS[pattern]
        except KeyError:
            raise ValueError(f"unknown pattern {pattern!r}; known: {sorted(PATTERNS)}") from None
        self.off()
        leds = {"green": [self.green], "red": [self.red], "both": [self.green, self.red]}[p.led]
        for led in leds:
            led.blink(on_time=p.on_s, off_time=p.off_s, n=p.blinks, background=True)
        if self.buzzer is not None:
            self.buzzer.beep(on_time=p.beep_on_s, off_time=p.beep_off_s, n=p.beeps, background=True)

    def off(self) -> None:
        self.green.off()
        self.red.off()
        if self.buzzer is not None:
            self.buzzer.off()

    def close(self) -> None:
        for device in (self.green, self.red, self.buzzer):
            if device is not None:
                device.close()


class CategoryButtons:
    """One button per waste category; pressing one selects it (``selected``, callback).

    ``pins`` maps a GPIO pin to the category code it selects (``{20: "organic"}``).
    """

    def __init__(
        self,
        pins: dict[Any, str],
        pin_factory: Any = None,
        *,
        on_select: Callable[[str], None] | None = None,
        bounce_time_s: float | None = 0.05,
    ) -> None:
        if not pins:
            raise ValueError("pins must map at least one pin to a category")
        bad = [c for c in pins.values() if not _SLUG.match(c)]
        if bad:
            raise ValueError(f"category codes must be slugs like 'plastic-pet': {bad}")
        if len(set(pins.values())) != len(pins):
            raise ValueError("each category may have only one button")
        self.selected: str | None = None
        self.on_select = on_select
        self._buttons: list[Button] = []
        try:
            for pin, category in pins.items():
                button = Button(
                    pin, pull_up=True, bounce_time=bounce_time_s, pin_factory=pin_factory
                )
                button.when_pressed = self._make_handler(category)
                self._buttons.append(button)
        except BaseException:
            self.close()
            raise

    def _make_handler(self, category: str) -> Callable[[], None]:
        def pressed() -> None:
            self.selected = category
            if self.on_select is not None:
                self.on_select(category)

        return pressed

    def clear(self) -> None:
        """Forget the selection (after a weigh-in was recorded)."""
        self.selected = None

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons.clear()
