"""Hooks the agent process under test loads by name (``simulator_hook``, ``display_hook``).

``bins(factory)`` puts two simulated bins (``simulators.bins``) on the gpiozero mock pins:
bin A is 50 % full (a 1,000 mm bin with a 200 mm margin) and, once its sensor has been
pinged ``SALINMAS_TEST_BIN_CHANGE_PINGS`` times (counted, not timed: a loaded host starts
the agent late), 87.5 %; bin B's sensor gives no echo (a fault).
``show(receipt)`` appends each receipt to the file named by ``SALINMAS_TEST_DISPLAY_FILE``,
a stand-in for a station's small display.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from gpiozero.pins.mock import MockFactory

from contract.models import Receipt
from simulators.bins import BinModel, BinSimulator

SPEED_OF_SOUND_M_S = 343.26
BIN_A = {"trigger_pin": 17, "echo_pin": 27}
BIN_B = {"trigger_pin": 5, "echo_pin": 6}


def echo_time(distance_mm: float) -> float:
    return 2 * distance_mm / 1000 / SPEED_OF_SOUND_M_S


#: the bin simulators of this process (kept alive with it)
SIMS: list[BinSimulator] = []


def bins(factory: MockFactory) -> None:
    def model(bin_id: str) -> BinModel:
        return BinModel(
            bin_id=bin_id,
            empty_depth_mm=1000,
            full_margin_mm=200,
            daily_growth_pct=0,
            initial_fill_pct=50,
        )

    a = BinSimulator(model("bin-modes-a"), factory, surface_noise_mm=0, **BIN_A)
    b = BinSimulator(model("bin-modes-b"), factory, **BIN_B)
    b.set_fault("no_echo")
    SIMS.extend([a, b])
    after = int(os.environ.get("SALINMAS_TEST_BIN_CHANGE_PINGS", "20"))

    def change() -> None:
        while a.pings < after:
            time.sleep(0.02)
        a.model.set_fill(87.5)

    threading.Thread(target=change, name="bin-a-change", daemon=True).start()


def show(receipt: Receipt) -> None:
    with open(os.environ["SALINMAS_TEST_DISPLAY_FILE"], "a") as fh:
        fh.write(f"{receipt.event_id} {receipt.status.value} {receipt.amount_rp}\n")


#: what :func:`record` was called with
calls: list[tuple[Any, Any]] = []


def record(pin_factory: Any, settings: Any) -> None:
    calls.append((pin_factory, settings))
