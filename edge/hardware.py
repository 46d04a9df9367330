"""Building the station's and bins' devices from settings (the only place that does).

Everything here opens hardware: the scale's serial port (``ScaleTransport``), the card
reader, gpiozero pins (buttons, LEDs, buzzer, HC-SR04 sensors). With
``pin_factory = "mock"`` gpiozero's ``MockFactory`` stands in for the Pi's pins, and the
optional ``simulator_hook`` ("module:function") is called with that factory *before* any
device is created, so a simulator can prepare the pins (e.g. an HC-SR04 echo) and drive
them from the same process.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from edge.bins import BinMonitor
from edge.config import BinSettings, EdgeSettings, StationSettings
from edge.firmware_bridge.base import get_protocol
from edge.firmware_bridge.transport import ScaleTransport, detect_line
from edge.station import CardSource, Feedback, LogFeedback

log = logging.getLogger("salinmas.edge.hardware")


def load_callable(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (for hooks named in the config)."""
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"{target!r} is not a callable")
    return fn  # type: ignore[no-any-return]


def make_pin_factory(settings: EdgeSettings) -> Any:
    """gpiozero's pin factory: ``MockFactory`` for ``"mock"``, else gpiozero's default."""
    if settings.pin_factory != "mock":
        return None
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    Device.pin_factory = factory
    return factory


def open_scale(s: StationSettings) -> ScaleTransport:
    """The indicator's transport; ``line = "auto"`` detects the line settings first."""
    protocol = get_protocol(s.protocol)
    line = None
    if s.line == "auto":
        line = detect_line(s.scale_port, protocol)
        if line is None:
            log.warning("no line setting gave valid %s frames; using its default", s.protocol)
        else:
            log.info("detected line settings %s", line)
    elif s.line != "default":
        line = s.line.as_tuple()
    return ScaleTransport(s.scale_port, protocol, line=line, poll_interval_s=s.poll_interval_s)


def _bridge(name: str) -> Any | None:
    """A firmware-bridge class by name, or ``None`` if this build does not have it."""
    for module in ("edge.firmware_bridge.cards", "edge.firmware_bridge.sensors"):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    return None


def open_cards(s: StationSettings) -> CardSource | None:
    if s.card_port is None:
        return None
    reader = _bridge("CardReader")
    if reader is None:
        raise RuntimeError("this build has no card reader driver (edge.firmware_bridge.cards)")
    source: CardSource = reader(s.card_port, s.card_kind)
    return source


class _CombinedFeedback:
    """Logs every signal and drives the LEDs/buzzer when the station has them."""

    def __init__(self, hw: Any) -> None:
        self.log = LogFeedback()
        self.hw = hw

    def signal(self, pattern: str) -> None:
        self.log.signal(pattern)
        if self.hw is not None:
            try:
                self.hw.signal(pattern)
            except Exception:  # a broken buzzer must not stop weighing
                log.exception("feedback %s failed", pattern)


def open_feedback(s: StationSettings, pin_factory: Any) -> Feedback:
    pins = {"green": s.led_green_pin, "red": s.led_red_pin, "buzzer": s.buzzer_pin}
    hw = None
    if any(p is not None for p in pins.values()):
        cls = _bridge("StationFeedback")
        if cls is None:
            log.warning("no StationFeedback driver in this build; signals are logged only")
        else:
            hw = cls(
                green_pin=s.led_green_pin,
                red_pin=s.led_red_pin,
                buzzer_pin=s.buzzer_pin,
                pin_factory=pin_factory,
            )
    return _CombinedFeedback(hw)


def open_category_buttons(
    s: StationSettings, pin_factory: Any, select: Callable[[str], None]
) -> list[Any]:
    """One gpiozero ``Button`` per category; pressing it selects the category."""
    if not s.category_buttons:
        return []
    from gpiozero import Button

    buttons = []
    for category, pin in s.category_buttons.items():
        button = Button(pin, pin_factory=pin_factory)
        button.when_pressed = lambda _b=None, c=category: select(c)
        buttons.append(button)
    return buttons


def open_bin(b: BinSettings, pin_factory: Any) -> tuple[BinMonitor, list[Any]]:
    """A bin's monitor and the devices to close with it."""
    sensor_cls = _bridge("FillSensor")
    if sensor_cls is None:
        raise RuntimeError("this build has no FillSensor driver (edge.firmware_bridge.sensors)")
    sensor = sensor_cls(
        trigger_pin=b.trigger_pin,
        echo_pin=b.echo_pin,
        empty_depth_mm=b.empty_depth_mm,
        full_margin_mm=b.full_margin_mm,
        samples=b.samples,
        pin_factory=pin_factory,
    )
    devices: list[Any] = [sensor]
    lid_open: Callable[[], bool | None] | None = None
    if b.lid_pin is not None:
        lid_cls = _bridge("LidSwitch")
        if lid_cls is None:
            log.warning("no LidSwitch driver in this build; lid state not reported")
        else:
            lid = lid_cls(b.lid_pin, pin_factory=pin_factory)
            devices.append(lid)

            def lid_open() -> bool | None:
                return bool(lid.is_open)

    return BinMonitor(b, sensor, lid_open=lid_open), devices
