"""How each fraud rule computes its figure: one detector per rule, registered by code.

The detectors live by subject in :mod:`cloud.fraud.people` (cards, households) and
:mod:`cloud.fraud.places` (stations, sites, collectors); what they return, and the day
helpers they share, in :mod:`cloud.fraud.hits`.
"""

from __future__ import annotations

from cloud.fraud.hits import Detector, Hit
from cloud.fraud.people import (
    card_two_stations,
    household_outlier,
    repeated_weights,
    unassigned_assigned,
)
from cloud.fraud.places import collector_gap, outside_hours, station_jump

__all__ = ["DETECTORS", "Detector", "Hit"]

DETECTORS: dict[str, Detector] = {
    "card_two_stations": card_two_stations,
    "outside_hours": outside_hours,
    "repeated_weights": repeated_weights,
    "household_outlier": household_outlier,
    "station_jump": station_jump,
    "unassigned_assigned": unassigned_assigned,
    "collector_gap": collector_gap,
}
