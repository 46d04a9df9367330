"""Simulators that stand in for every piece of Salinmas hardware.

They talk to the system only the way hardware does: bytes on a pseudo-terminal
(:mod:`simulators.scales`, :mod:`simulators.cards`), levels on gpiozero mock pins
(:mod:`simulators.bins`) and messages on the broker (:mod:`simulators.load`). They never
import a service's internals.

- :mod:`simulators.scales` — weighing indicators of every protocol the bridge reads;
- :mod:`simulators.cards` — RDM6300 125 kHz card readers and line-mode barcode scanners;
- :mod:`simulators.bins` — bins filling with a daily pattern, on HC-SR04 mock pins;
- :mod:`simulators.households` — a population bringing sorted waste to stations;
- :mod:`simulators.fleet` — scale stations and bins as real edge-agent processes;
- :mod:`simulators.load` — contract events published straight to the broker, for benchmarks;
- :mod:`simulators.clock` — accelerated simulated time (a day in minutes).
"""
