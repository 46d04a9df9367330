"""GPIO devices of bins and scale stations (gpiozero; inject ``pin_factory`` to test).

- :class:`FillSensor` — HC-SR04 ultrasonic ranger over a bin -> fill %, or a fault;
- :class:`LidSwitch`, :class:`TiltSwitch` — reed/tilt switches (gpiozero ``Button``);
- :class:`StationFeedback` — status LEDs and buzzer with named signal patterns;
- :class:`CategoryButtons` — one button per waste category at a scale station.
"""

from edge.firmware_bridge.sensors.controls import (
    PATTERNS,
    CategoryButtons,
    LidSwitch,
    StationFeedback,
    TiltSwitch,
)
from edge.firmware_bridge.sensors.fill import FillMeasurement, FillSensor

__all__ = [
    "PATTERNS",
    "CategoryButtons",
    "FillMeasurement",
    "FillSensor",
    "LidSwitch",
    "StationFeedback",
    "TiltSwitch",
]
