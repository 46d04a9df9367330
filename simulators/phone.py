"""A collector's phone as the JEKNYONG web app behaves, for the demo and tests.

The phone has its own id (``ph-`` and random characters, made once), a sequence number
it never reuses, and the id of the page session (``boot_id``, with milliseconds since it
started). A completion of a household's pickup is the body of
``POST /api/v1/pickups/{id}/doorstep``: its own event id (``{phone_id}:{seq}``) and one
line per bag weighed, each with its own event id. Sending the same body again is what a
phone does when it did not see the answer (it is idempotent on those ids).

Example::

    phone = Phone()
    body = phone.completion([("plastic-pet", 1250), ("plastic-mixed", 3100)])
    httpx.post(f"{api}/api/v1/pickups/{pickup_id}/doorstep", json=body, headers=auth)
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


class Phone:
    """A phone: ``completion()`` builds bodies with fresh event ids."""

    def __init__(self, phone_id: str | None = None, *, clock_synced: bool = True) -> None:
        self.phone_id = phone_id or f"ph-{secrets.token_hex(8)}"
        self.clock_synced = clock_synced
        self.boot_id = str(uuid.uuid4())
        self._t0 = time.monotonic()
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def completion(
        self,
        lines: Sequence[tuple[str, int]],
        *,
        payment: str = "savings",
        weighed_at: datetime | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """A completion of ``lines`` ``(category, grams)``, weighed at ``weighed_at``
        (the phone's clock; default now)."""
        at = (weighed_at or datetime.now(UTC)).isoformat()
        return {
            "phone_id": self.phone_id,
            "seq": self.next_seq(),
            "completed_at": at,
            "clock_synced": self.clock_synced,
            "boot_id": self.boot_id,
            "mono_ms": int((time.monotonic() - self._t0) * 1000),
            "payment": payment,
            "note": note,
            "user_agent": "salinmas-simulated-phone",
            "lines": [
                {"seq": self.next_seq(), "category": category, "net_g": grams, "weighed_at": at}
                for category, grams in lines
            ],
        }
