"""Tickets at the station: remembered at capture, printed after the receipt, re-printable.

:class:`TicketSpool` is a small SQLite file (``[edge.printer] spool``) that records each
weigh-in when it is captured (category, net weight, time) and its receipt when the
cloud answers; :class:`TicketDesk` prints what is due on its own thread. Capture and the
outbox never wait for the printer: :meth:`TicketDesk.weighed` and
:meth:`TicketDesk.receipt` are one local insert/update each and never raise; a printer
that is unplugged or out of paper leaves the ticket ``to_print`` and the desk tries again
every ``retry_s``.

A ticket is printed again with ``salinmas edge reprint --config F [--event-id ID]``
(another process: it marks the ticket in the spool, the running agent prints it) or
the ``reprint_button_pin`` (the last ticket).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from contract.models import Receipt
from edge.config import PrinterSettings
from edge.printer import PrinterError, Style, TicketData, TicketPrinter, ticket_lines

log = logging.getLogger("salinmas.edge.tickets")

#: tickets kept (printed ones are removed beyond this)
KEPT = 1000
#: how often the desk looks for tickets another process marked for reprinting
POLL_S = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    event_id   TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    weighed_at REAL    NOT NULL,
    category   TEXT    NOT NULL,
    net_g      INTEGER NOT NULL,
    receipt    BLOB,
    state      TEXT    NOT NULL DEFAULT 'awaiting_receipt',
    prints     INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    printed_at REAL
);
CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state, seq);
"""


class PrinterLike(Protocol):
    def print_lines(self, lines: list[tuple[str, Style]]) -> None: ...
    def close(self) -> None: ...


class TicketSpool:
    """The station's tickets in SQLite (thread-safe; several processes may open it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except Exception:
            self._db.close()
            raise

    def weighed(self, *, seq: int, event_id: str, category: str, net_g: int, at: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO tickets (event_id, seq, weighed_at, category, net_g) "
                "VALUES (?, ?, ?, ?, ?)",
                (event_id, seq, at.timestamp(), category, net_g),
            )

    def receipt(self, r: Receipt) -> bool:
        """Store the first receipt of a weigh-in; True when a ticket is now due."""
        payload = r.model_dump_json().encode()
        with self._lock:
            changed = self._db.execute(
                "UPDATE tickets SET receipt = ?, state = 'to_print' "
                "WHERE event_id = ? AND state = 'awaiting_receipt'",
                (payload, r.event_id),
            ).rowcount
            if not changed:  # captured before the printer was configured, or spool lost
                changed = self._db.execute(
                    "INSERT OR IGNORE INTO tickets (event_id, seq, weighed_at, category, net_g, "
                    "receipt, state) VALUES (?, ?, ?, '-', ?, ?, 'to_print')",
                    (r.event_id, r.seq, r.processed_at.timestamp(), r.net_g or 0, payload),
                ).rowcount
            self._db.execute(
                "DELETE FROM tickets WHERE state = 'printed' AND seq <= "
                "(SELECT seq FROM tickets ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (KEPT,),
            )
        return bool(changed)

    def due(self, limit: int = 20) -> list[tuple[TicketData, int]]:
        """Tickets to print, oldest first, with how often each was printed before."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, weighed_at, category, net_g, receipt, prints FROM tickets "
                "WHERE state = 'to_print' ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [(_ticket(row), int(row[5])) for row in rows]

    def printed(self, event_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE tickets SET state = 'printed', prints = prints + 1, printed_at = ?, "
                "last_error = NULL WHERE event_id = ?",
                (time.time(), event_id),
            )

    def failed(self, event_id: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE tickets SET attempts = attempts + 1, last_error = ? WHERE event_id = ?",
                (error[:200], event_id),
            )

    def reprint(self, event_id: str | None = None) -> str | None:
        """Mark a printed ticket (the last one when ``event_id`` is None) to print again."""
        with self._lock:
            if event_id is None:
                row = self._db.execute(
                    "SELECT event_id FROM tickets WHERE state = 'printed' "
                    "ORDER BY printed_at DESC, seq DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                event_id = str(row[0])
            changed = self._db.execute(
                "UPDATE tickets SET state = 'to_print' WHERE event_id = ? AND state = 'printed'",
                (event_id,),
            ).rowcount
        return event_id if changed else None

    def state(self, event_id: str) -> tuple[str, int, str | None] | None:
        """(state, prints, last error) of one ticket."""
        with self._lock:
            row = self._db.execute(
                "SELECT state, prints, last_error FROM tickets WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), row[2])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _ticket(row: tuple[Any, ...]) -> TicketData:
    event_id, weighed_at, category, net_g, receipt, _ = row
    r = Receipt.model_validate_json(receipt) if receipt is not None else None
    return TicketData(
        str(event_id), datetime.fromtimestamp(float(weighed_at), UTC), str(category), int(net_g), r
    )


class TicketDesk:
    """Prints due tickets on its own thread (see the module docs)."""

    def __init__(
        self,
        settings: PrinterSettings,
        device_id: str,
        *,
        printer: PrinterLike | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.device_id = device_id
        self.spool = TicketSpool(settings.spool)
        self.printer: PrinterLike = printer or TicketPrinter(settings)
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.printed = 0
        self.failures = 0
        self.last_error: str | None = None

    # -- called from the station and link threads: never block, never raise --------------

    def weighed(self, *, seq: int, event_id: str, category: str, net_g: int) -> None:
        try:
            self.spool.weighed(
                seq=seq, event_id=event_id, category=category, net_g=net_g, at=self._clock()
            )
        except sqlite3.Error as exc:
            log.error(
                "ticket spool write failed (%s); the ticket for %s prints without it", exc, event_id
            )

    def receipt(self, r: Receipt) -> None:
        try:
            if self.spool.receipt(r):
                self._wake.set()
        except sqlite3.Error as exc:
            log.error("ticket spool write failed (%s); no ticket for %s", exc, r.event_id)

    def request_reprint(self, event_id: str | None = None) -> str | None:
        try:
            done = self.spool.reprint(event_id)
        except sqlite3.Error as exc:
            log.error("reprint failed: %s", exc)
            return None
        self._wake.set()
        return done

    # -- the print thread ---------------------------------------------------------------

    def print_due(self) -> int:
        """Print what is due; stops at the first failure (the printer is not ready)."""
        done = 0
        for ticket, prints in self.spool.due():
            lines = ticket_lines(
                ticket, self.settings, device_id=self.device_id, reprint=prints > 0
            )
            try:
                self.printer.print_lines(lines)
            except PrinterError as exc:
                self.failures += 1
                if str(exc) != self.last_error:
                    log.warning("ticket %s not printed: %s (will retry)", ticket.event_id, exc)
                self.last_error = str(exc)
                self.spool.failed(ticket.event_id, str(exc))
                return -1
            self.spool.printed(ticket.event_id)
            self.printed += 1
            self.last_error = None
            done += 1
            log.info("ticket %s printed", ticket.event_id)
        return done

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.print_due()
            except Exception:  # keep the desk alive; the log shows what happened
                log.exception("ticket printing failed")
                result = -1
            wait = self.settings.retry_s if result < 0 else POLL_S
            self._wake.wait(wait)
            self._wake.clear()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="tickets", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.printer.close()
        self.spool.close()


def open_reprint_button(pin: Any, pin_factory: Any, desk: TicketDesk) -> Any:
    """A gpiozero button that prints the last ticket again (to close with the devices)."""
    from gpiozero import Button

    button = Button(pin, pin_factory=pin_factory, bounce_time=0.05)
    button.when_pressed = lambda: desk.request_reprint()
    return button


def reprint_cli(settings: Any, event_id: str | None) -> int:
    """``salinmas edge reprint``: mark a ticket for the running agent to print again."""
    if settings.printer is None:
        print("this device has no [edge.printer]")
        return 2
    spool = TicketSpool(settings.printer.spool)
    try:
        done = spool.reprint(event_id)
    finally:
        spool.close()
    if done is None:
        print(f"no printed ticket {event_id or '(none yet)'} to print again")
        return 1
    print(f"ticket {done} will be printed again")
    return 0
