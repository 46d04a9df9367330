"""Notifications: tell households and operators what happened, on the channels they use.

The domain writes :func:`enqueue` / :func:`enqueue_many` in the transaction of the event
(credit, reversal, payout, pickup); ``salinmas notify run`` (:mod:`.sender`) sends. See
:mod:`cloud.models.notifications` for the tables, :mod:`.queue` for claiming and
retries, :mod:`.channels` for SMS (Gammu SMSD), HTTP gateways (Apprise) and the in-app
inbox, ``templates.toml`` for the texts.
"""

from cloud.notifications.outbox import Outgoing, enqueue, enqueue_many
from cloud.notifications.phone import InvalidPhone, normalise_phone

__all__ = ["InvalidPhone", "Outgoing", "enqueue", "enqueue_many", "normalise_phone"]
