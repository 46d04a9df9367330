"""Built-in indicator protocols; importing this package registers them all.

Adding a protocol means adding one module here (and its ``tests/data/<name>/`` cases).

=================  =============================================================
name               indicator family
=================  =============================================================
``mtsics``         Mettler Toledo MT-SICS balances and weigh modules
``and_balance``    A&D balances (GX/GF/FX-i/EK), "ST,+00123.45  g"
``and_indicator``  A&D indicators (AD-4406/AD-4404), "ST,GS,+0012.34kg"
``cas22``          CAS indicators, 22-byte format with the lamp byte
``cas10``          CAS indicators, 10-byte format (no stability flag)
``toledo``         Mettler Toledo continuous output (STX, status words, checksum)
``ohaus``          OHAUS balances and indicators
``sartorius``      Sartorius SBI, 16- and 22-character lines
``generic``        any line format described by a regular expression
=================  =============================================================
"""

from edge.firmware_bridge.protocols import and_, cas, generic, mtsics, ohaus, sartorius, toledo

__all__ = ["and_", "cas", "generic", "mtsics", "ohaus", "sartorius", "toledo"]
