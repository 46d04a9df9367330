"""Scale-station mode: card -> category -> stable weight -> weigh-in.

The station thread owns the weighing indicator (``ScaleTransport``) and the card reader.
It feeds every reading to the capture state machine (``edge.capture``) and, when that
yields a stable weight, hands the weigh-in to ``submit`` together with:

- the **card** presented last (valid for ``card_session_s`` after the last tap or
  weigh-in, so a household can weigh several categories after one tap); no card means
  ``card_id=None`` and the cloud keeps the weigh-in as *unassigned*;
- the **category** chosen with a category button, else ``default_category``.

``submit`` returns the outbox seq, or ``None`` when the outbox refused it (full): the
station then signals ``"refused"`` and logs it, so the operator writes it down by hand.

Commands from the cloud (``tare``, ``zero``) are queued with :meth:`Station.request` and
executed on the station thread, which alone talks to the port.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from edge.capture import CapturedWeight, WeighinCapture
from edge.config import StationSettings
from protocols.base import Reading

log = logging.getLogger("salinmas.edge.station")


class ScaleLike(Protocol):
    @property
    def connected(self) -> bool: ...
    def read(self, timeout_s: float) -> list[Reading]: ...
    def zero(self) -> bool: ...
    def tare(self) -> bool: ...
    def close(self) -> None: ...


class CardSource(Protocol):
    def read(self, timeout_s: float) -> list[str]: ...
    def close(self) -> None: ...


class Feedback(Protocol):
    def signal(self, pattern: str) -> None: ...


#: submit(weight, card_id, category, protocol) -> seq, or None when refused
Submit = Callable[[CapturedWeight, str | None, str, str], int | None]


class LogFeedback:
    """Feedback for a station without LEDs/buzzer: a log line per signal."""

    def __init__(self) -> None:
        self.signals: list[str] = []

    def signal(self, pattern: str) -> None:
        self.signals = [*self.signals[-99:], pattern]
        log.info("station signal: %s", pattern)


class Station:
    """One scale station (see the module docs)."""

    def __init__(
        self,
        settings: StationSettings,
        *,
        scale: ScaleLike,
        protocol: str,
        submit: Submit,
        feedback: Feedback,
        cards: CardSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        stability_flag: bool = True,
    ) -> None:
        self.settings = settings
        self.scale = scale
        self.protocol = protocol
        self.cards = cards
        self.feedback = feedback
        self._submit = submit
        self._clock = clock
        self.capture = WeighinCapture(
            division_g=settings.division_g,
            min_divisions=settings.min_divisions,
            window_s=settings.stable_window_s,
            min_samples=settings.min_stable_samples,
            stability_flag=stability_flag,  # the protocol's: cas10 has none
        )
        self._commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._card: str | None = None
        self._card_until = 0.0
        self._category = settings.default_category
        self._was_connected = False
        self.weighins = 0
        self.refused = 0
        self.readings = 0

    # -- inputs from other threads ----------------------------------------------------

    def request(self, action: str) -> None:
        """Queue ``"tare"`` or ``"zero"`` for the indicator."""
        if action not in ("tare", "zero"):
            raise ValueError(f"unknown scale action {action!r}")
        self._commands.put(action)

    def select_category(self, category: str) -> None:
        """A category button was pressed."""
        with self._lock:
            self._category = category
            if self._card is not None:
                self._card_until = self._clock() + self.settings.card_session_s
        log.info("category selected: %s", category)

    def present_card(self, card_id: str) -> None:
        with self._lock:
            self._card = card_id
            self._card_until = self._clock() + self.settings.card_session_s
            self._category = self.settings.default_category
        self.feedback.signal("card")
        log.info("card presented: %s", card_id)

    @property
    def card(self) -> str | None:
        with self._lock:
            if self._card is not None and self._clock() > self._card_until:
                log.info("card session of %s ended", self._card)
                self._card = None
                self._category = self.settings.default_category
            return self._card

    # -- the thread --------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set; never raises on device errors."""
        while not stop.is_set():
            try:
                self.step(0.2)
            except Exception:  # keep the station alive; the log shows what happened
                log.exception("station step failed")
                stop.wait(1.0)

    def step(self, timeout_s: float) -> None:
        """One round: commands, card reader, scale readings (up to ``timeout_s``)."""
        while True:
            try:
                action = self._commands.get_nowait()
            except queue.Empty:
                break
            ok = self.scale.tare() if action == "tare" else self.scale.zero()
            log.info("%s command %s", action, "sent" if ok else "failed (scale not connected)")
        if self.cards is not None:
            for card_id in self.cards.read(0.0):
                self.present_card(card_id)
        readings = self.scale.read(timeout_s)
        connected = self.scale.connected
        if connected != self._was_connected:
            log.info("scale %s", "connected" if connected else "disconnected")
            if connected:
                # we lost track of the platform while away: re-arm only at zero
                self.capture.reset()
            self._was_connected = connected
        now = self._clock()
        for reading in readings:
            self.readings += 1
            weight = self.capture.feed(reading, now)
            if weight is not None:
                self._weighed(weight)

    def _weighed(self, weight: CapturedWeight) -> None:
        card_id = self.card
        with self._lock:
            category = self._category
            if self._card is not None:
                self._card_until = self._clock() + self.settings.card_session_s
        seq = self._submit(weight, card_id, category, self.protocol)
        if seq is None:
            self.refused += 1
            self.feedback.signal("refused")
            log.error(
                "WEIGH-IN REFUSED (outbox full): %d g %s card=%s — record it by hand",
                weight.net_g,
                category,
                card_id,
            )
            return
        self.weighins += 1
        log.info(
            "weigh-in seq=%d: %d g (tare %d g, d=%d g) %s card=%s",
            seq,
            weight.net_g,
            weight.tare_g,
            weight.division_g,
            category,
            card_id,
        )

    def close(self) -> None:
        self.scale.close()
        if self.cards is not None:
            self.cards.close()
