"""JEKNYONG at the door: a household asks for a pickup, a collector weighs and it is paid.

:func:`request_pickup` opens a household's request (categories it has, its estimate,
the window it asked for, a pin or an address); the minimum weight is
:attr:`DoorstepSettings.min_pickup_g`.

:func:`complete_at_door` completes it with the collector's weigh-ins. Each weigh-in is
credited through THE crediting path (:func:`cloud.crediting.credit_many`, with the
household as its :class:`~cloud.crediting.Payee`): priced at the category's price in
force when it was weighed — the phone's time, under the clock rule
(:func:`cloud.clock.event_time`: trusted only when the phone's clock agreed with the
server's and is not ahead of the receive time, never before the household asked) —
rounded once, and idempotent on the event id the phone made (``{phone_id}:{seq}``). The
completion itself is keyed by its own event id: a retried or replayed completion finds
the stored one and gets the same answer; a reused event id with other content is
refused. Cash at the door (``payment="cash"``) debits what was just credited against
the collector's float (:mod:`cloud.cash_float`) in the same transaction. A wrong credit
is reversed by an operator like any other (:func:`cloud.corrections.reverse_weighin`).

Locks: the pickup row first, then (inside crediting) the new weigh-in rows and the
household's account — the account last, as everywhere (:mod:`cloud.postings`).
Functions flush, never commit.
"""

from cloud.doorstep.completion import (
    CompletionIn,
    DoorstepResult,
    LineIn,
    LineResult,
    bind_phone,
    complete_at_door,
    completion_of,
    stored_result,
)
from cloud.doorstep.requests import request_pickup
from cloud.doorstep.rules import (
    MAX_LINE_G,
    MAX_LINES,
    MAX_PHOTO_BYTES,
    PHONE_ID,
    DoorstepError,
    DoorstepSettings,
)

__all__ = [
    "MAX_LINES",
    "MAX_LINE_G",
    "MAX_PHOTO_BYTES",
    "PHONE_ID",
    "CompletionIn",
    "DoorstepError",
    "DoorstepResult",
    "DoorstepSettings",
    "LineIn",
    "LineResult",
    "bind_phone",
    "complete_at_door",
    "completion_of",
    "request_pickup",
    "stored_result",
]
