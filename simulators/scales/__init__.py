"""Weighing indicators on pseudo-terminals, for every protocol the firmware bridge reads.

- :class:`ScaleSimulator` — an indicator of one protocol on a :class:`~simulators.pty.PtyDevice`;
- :mod:`simulators.scales.encoders` — the frame encoders, one module per protocol;
- :mod:`simulators.scales.model` — the load-cell physics (settling, noise, overload);
- :func:`main` — ``salinmas sim scale ...``.
"""

from simulators.scales.encoders import ENCODERS, Action, Display, Encoder, get_encoder
from simulators.scales.model import Dynamics, LoadModel
from simulators.scales.simulator import ScaleSimulator

__all__ = [
    "ENCODERS",
    "Action",
    "Display",
    "Dynamics",
    "Encoder",
    "LoadModel",
    "ScaleSimulator",
    "get_encoder",
]
