"""What a channel is to the sender: a message in, an outcome out.

Two kinds of channel:

- **transactional** (:attr:`Channel.transactional`): ``deliver`` writes into the ledger
  database (Gammu's outbox table) inside the very transaction that marks the delivery
  handed over. Killed at any point, either both happened or neither: the hand-over is
  exactly once. What the gateway does afterwards (``queued`` -> ``sent``) is read back
  by :meth:`Channel.poll`.
- **remote** (HTTP gateways): ``deliver`` runs outside any transaction, after the claim
  was committed and before the outcome is. A sender killed between the gateway's answer
  and that commit leaves the claim to expire and the message is sent again: at least
  once, unless the gateway honours the idempotency key it is given (:attr:`Message.key`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session

OutcomeStatus = Literal["sent", "queued", "retry", "dead"]


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery, rendered and addressed, ready for a channel."""

    delivery_id: int
    #: stable across retries of this delivery (changes only with an operator resend)
    key: str
    channel: str
    #: E.164 phone or the household's contact for this channel; None for group channels
    address: str | None
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    status: OutcomeStatus
    external_id: str | None = None
    #: why it failed (no phone numbers, no secrets: it is shown and logged)
    error: str | None = None


class Channel(Protocol):
    name: str
    kind: str
    transactional: bool

    def needs_address(self) -> bool:
        """Whether a household's phone/contact is needed (a group chat needs none)."""
        ...

    def deliver(self, session: Session | None, msg: Message) -> Outcome:
        """Send ``msg`` (transactional channels: write it in ``session``, no commit)."""
        ...

    def poll(self, session: Session, queued: Sequence[tuple[int, str]]) -> dict[int, Outcome]:
        """Final outcomes of handed-over deliveries ``(delivery_id, external_id)``."""
        ...

    def close(self) -> None: ...
