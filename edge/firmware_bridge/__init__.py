"""Serial protocols of weighing indicators and card readers, and sensor drivers.

Parsers are pure (``bytes -> Reading``, no I/O) and registered by name; transports own
a serial port or pins. See :mod:`edge.firmware_bridge.base`.
"""
