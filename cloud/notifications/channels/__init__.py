"""The channels a sender can serve, built from its settings (one module per kind).

``gammu`` (:mod:`.gammu`): SMS through Gammu SMSD's SQL tables, hand-over exactly once.
``apprise`` (:mod:`.gateway`): any HTTP gateway Apprise speaks, at least once (with an
idempotency key for gateways that honour one). The in-app inbox needs no channel object:
its deliveries are complete when written.
"""

from __future__ import annotations

from collections.abc import Mapping

from cloud.notifications.channels.base import Channel, Message, Outcome
from cloud.notifications.settings import (
    AppriseChannelSettings,
    ChannelSettings,
    GammuChannelSettings,
)

__all__ = ["Channel", "Message", "Outcome", "build_channels"]


def build_channels(configured: Mapping[str, ChannelSettings]) -> dict[str, Channel]:
    """Channel objects for the enabled channels of the settings."""
    out: dict[str, Channel] = {}
    for name, cfg in configured.items():
        if not cfg.enabled:
            continue
        if isinstance(cfg, GammuChannelSettings):
            from cloud.notifications.channels.gammu import GammuChannel

            out[name] = GammuChannel(name, cfg)
        elif isinstance(cfg, AppriseChannelSettings):
            from cloud.notifications.channels.gateway import AppriseChannel

            out[name] = AppriseChannel(name, cfg)
    return out
