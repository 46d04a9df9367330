"""Building devices from settings: the pin factory, hooks named in the config.

mutant: make_pin_factory setting gpiozero's global Device.pin_factory -> test_the_mock_...
"""

from __future__ import annotations

import pytest

from edge.config import EdgeSettings
from edge.hardware import call_simulator_hook, load_callable, make_pin_factory
from tests.edge import hooks


def test_simulator_hook_gets_the_settings_when_it_takes_them() -> None:
    settings = EdgeSettings(device_id="bin-hw01", station={}, pin_factory="mock")
    factory = make_pin_factory(settings)
    try:
        hooks.calls.clear()
        call_simulator_hook("tests.edge.hooks:record", factory, settings)
        assert hooks.calls == [(factory, settings)]
        call_simulator_hook("tests.edge.hooks:bins", factory, settings)  # one argument
        assert [s.model.bin_id for s in hooks.SIMS[-2:]] == ["bin-modes-a", "bin-modes-b"]
    finally:
        factory.reset()


def test_the_mock_factory_is_injected_not_made_global() -> None:
    from gpiozero import Device

    before = Device.pin_factory
    factory = make_pin_factory(EdgeSettings(device_id="bin-hw03", station={}, pin_factory="mock"))
    try:
        assert factory is not None
        assert Device.pin_factory is before
    finally:
        factory.reset()


def test_native_pin_factory_is_left_to_gpiozero() -> None:
    assert make_pin_factory(EdgeSettings(device_id="bin-hw02", station={})) is None


def test_a_hook_that_is_not_callable_is_refused() -> None:
    with pytest.raises(ValueError, match="not a callable"):
        load_callable("tests.edge.hooks:SPEED_OF_SOUND_M_S")
