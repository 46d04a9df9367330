"""Hooks the agent process under test loads by name (``simulator_hook``, ``display_hook``).

``bins(factory)`` wires gpiozero mock pins like two bins: bin A's HC-SR04 echoes from
600 mm (50 % of a 1,000 mm bin with a 200 mm margin) and, after
``SALINMAS_TEST_BIN_CHANGE_S`` seconds, from 300 mm (87.5 %); bin B's sensor is wired
to nothing (no echo: a fault). ``show(receipt)`` appends each receipt to the file named
by ``SALINMAS_TEST_DISPLAY_FILE`` — a stand-in for a station's small display.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from gpiozero.pins.mock import MockFactory, MockTriggerPin

from contract.models import Receipt

SPEED_OF_SOUND_M_S = 343.26
BIN_A = {"trigger": 17, "echo": 27}
BIN_B = {"trigger": 5, "echo": 6}


def echo_time(distance_mm: float) -> float:
    return 2 * distance_mm / 1000 / SPEED_OF_SOUND_M_S


def bins(factory: MockFactory) -> None:
    echo = factory.pin(BIN_A["echo"])
    trigger: Any = factory.pin(
        BIN_A["trigger"], pin_class=MockTriggerPin, echo_pin=echo, echo_time=echo_time(600)
    )
    factory.pin(BIN_B["echo"])
    factory.pin(BIN_B["trigger"])  # nothing answers
    after = float(os.environ.get("SALINMAS_TEST_BIN_CHANGE_S", "2"))

    def fill_up() -> None:
        trigger.echo_time = echo_time(300)

    timer = threading.Timer(after, fill_up)
    timer.daemon = True
    timer.start()


def show(receipt: Receipt) -> None:
    with open(os.environ["SALINMAS_TEST_DISPLAY_FILE"], "a") as fh:
        fh.write(f"{receipt.event_id} {receipt.status.value} {receipt.amount_rp}\n")


#: what :func:`record` was called with
calls: list[tuple[Any, Any]] = []


def record(pin_factory: Any, settings: Any) -> None:
    calls.append((pin_factory, settings))
