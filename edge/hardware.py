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
from typing import TYPE_CHECKING, Any

from edge.bins import BinMonitor
from edge.config import BinSettings, EdgeSettings, StationSettings
from edge.firmware_bridge.transport import ScaleTransport, detect_line
from edge.station import LogFeedback
from protocols.base import get_protocol

if TYPE_CHECKING:  # gpiozero and the card driver load only on a Pi that uses them
    from edge.firmware_bridge.cards import CardReader
    from edge.firmware_bridge.sensors import CategoryButtons, StationFeedback

log = logging.getLogger("salinmas.edge.hardware")


def load_callable(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (for hooks named in the config)."""
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"{target!r} is not a callable")
    return fn  # type: ignore[no-any-return]


def call_simulator_hook(target: str, pin_factory: Any, settings: EdgeSettings) -> Any:
    """Call ``hook(pin_factory, settings)``, or ``hook(pin_factory)`` if it takes one argument."""
    import inspect

    hook = load_callable(target)
    try:
        inspect.signature(hook).bind(pin_factory, settings)
    except TypeError:
        return hook(pin_factory)
    return hook(pin_factory, settings)


def make_pin_factory(settings: EdgeSettings) -> Any:
    """gpiozero's pin factory: ``MockFactory`` for ``"mock"``, else None (gpiozero's default).

    Passed to every device this module builds (``pin_factory=``); gpiozero's global
    ``Device.pin_factory`` is left alone, so two agents (or a test and an agent) in one
    process never share pins by accident.
    """
    if settings.pin_factory != "mock":
        return None
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


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


def open_cards(s: StationSettings) -> CardReader | None:
    if s.card_port is None:
        return None
    from edge.firmware_bridge.cards import CardReader

    return CardReader(s.card_port, s.card_kind)


class _CombinedFeedback:
    """Logs every signal and drives the LEDs/buzzer when the station has them."""

    def __init__(self, hw: StationFeedback | None) -> None:
        self.log = LogFeedback()
        self.hw = hw

    def signal(self, pattern: str) -> None:
        self.log.signal(pattern)
        if self.hw is not None:
            try:
                self.hw.signal(pattern)
            except Exception:  # a broken buzzer must not stop weighing
                log.exception("feedback %s failed", pattern)

    def close(self) -> None:
        if self.hw is not None:
            self.hw.close()


def open_feedback(s: StationSettings, pin_factory: Any) -> _CombinedFeedback:
    """LEDs (and buzzer) when both LED pins are set; every signal is logged regardless."""
    hw = None
    if s.led_green_pin is not None and s.led_red_pin is not None:
        from edge.firmware_bridge.sensors import StationFeedback

        hw = StationFeedback(
            green_pin=s.led_green_pin,
            red_pin=s.led_red_pin,
            buzzer_pin=s.buzzer_pin,
            pin_factory=pin_factory,
        )
    elif s.led_green_pin is not None or s.led_red_pin is not None:
        log.warning("feedback needs both led_green_pin and led_red_pin; signals are logged only")
    return _CombinedFeedback(hw)


def open_category_buttons(
    s: StationSettings, pin_factory: Any, select: Callable[[str], None]
) -> CategoryButtons | None:
    """The category buttons; pressing one selects its category at the station."""
    if not s.category_buttons:
        return None
    from edge.firmware_bridge.sensors import CategoryButtons

    pins = {pin: category for category, pin in s.category_buttons.items()}
    return CategoryButtons(pins, pin_factory, on_select=select)


def open_bin(b: BinSettings, pin_factory: Any) -> tuple[BinMonitor, list[Any]]:
    """A bin's monitor and the devices to close with it."""
    from edge.firmware_bridge.sensors import FillSensor, LidSwitch, TiltSwitch

    sensor = FillSensor(
        trigger_pin=b.trigger_pin,
        echo_pin=b.echo_pin,
        empty_depth_mm=b.empty_depth_mm,
        full_margin_mm=b.full_margin_mm,
        samples=b.samples,
        pin_factory=pin_factory,
    )
    devices: list[Any] = [sensor]
    try:
        lid = LidSwitch(b.lid_pin, pin_factory=pin_factory) if b.lid_pin is not None else None
        if lid is not None:
            devices.append(lid)
        tilt = TiltSwitch(b.tilt_pin, pin_factory=pin_factory) if b.tilt_pin is not None else None
        if tilt is not None:
            devices.append(tilt)
    except BaseException:
        for dev in devices:
            dev.close()
        raise
    monitor = BinMonitor(
        b,
        sensor,
        lid_open=(lambda: lid.is_open) if lid is not None else None,
        tilted=(lambda: tilt.tilted) if tilt is not None else None,
    )
    return monitor, devices
