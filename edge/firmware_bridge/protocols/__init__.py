"""Built-in indicator protocols; importing this package registers them all.

Adding a protocol means adding one module here (and its ``tests/data/<name>/`` cases).
"""

from edge.firmware_bridge.protocols import mtsics

__all__ = ["mtsics"]
