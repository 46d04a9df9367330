"""SMS through Gammu SMSD's SQL backend, on the ledger database itself.

`gammu-smsd` (Debian package ``gammu-smsd``, 1.42) drives a GSM modem and reads the
messages to send from its ``outbox`` table; after sending it moves each one to
``sentitems`` with a ``Status`` (``SendingOK``, ``SendingOKNoReport``, ``SendingError``,
``Error``, later ``DeliveryOK``/``DeliveryFailed`` with delivery reports). Its tables live
in the same database as the ledger (SQLite through libdbi, PostgreSQL natively), so:

- **hand-over is exactly once**: the sender inserts the SMS into Gammu's outbox in the
  same transaction that marks the delivery ``queued`` (see :mod:`.base`); a sender killed
  at any point leaves both or neither;
- **status comes back** from ``sentitems`` (:meth:`GammuChannel.poll`), matched by the
  outbox ``ID`` and our ``CreatorID`` (``salinmas:<delivery id>``).

What Gammu itself promises after that: it marks a message (``SendingTimeOut``) before
handing it to the modem and moves it to ``sentitems`` afterwards; killed between the two
it sends the message again when the mark expires — a rare duplicate we cannot prevent.

Gammu's tables (:mod:`.gammu_schema`) get a prefix (``gammu_outbox``, ...) so they stand
out in the shared database; :func:`smsdrc` writes the gammu-smsdrc that matches
(``[tables]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from cloud.db import chunks
from cloud.notifications.channels.base import Message, Outcome
from cloud.notifications.channels.gammu_schema import ensure_schema, table_names
from cloud.notifications.channels.sms import split_sms
from cloud.notifications.settings import GammuChannelSettings

SENT_OK = frozenset(
    {"SendingOK", "SendingOKNoReport", "DeliveryOK", "DeliveryPending", "DeliveryUnknown"}
)
SENT_FAILED = frozenset({"SendingError", "Error", "DeliveryFailed"})
CREATOR_PREFIX = "salinmas:"


class _GammuBool(TypeDecorator[bool]):
    """Gammu's booleans: ``boolean`` on PostgreSQL, the text 'true'/'false' on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Boolean())
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: bool | None, dialect: Dialect) -> object:
        if value is None or dialect.name == "postgresql":
            return value
        return "true" if value else "false"


def gammu_tables(prefix: str) -> tuple[Table, Table, Table]:
    """Core tables (the columns we write and read) for outbox, multipart and sentitems."""
    md = MetaData()
    names = table_names(prefix)
    outbox = Table(
        names["outbox"],
        md,
        Column("ID", Integer, primary_key=True),
        Column("DestinationNumber", String),
        Column("TextDecoded", Text),
        Column("Coding", String),
        Column("UDH", Text),
        Column("MultiPart", _GammuBool),
        Column("CreatorID", Text),
        Column("SenderID", String),
        Column("DeliveryReport", String),
        Column("Class", Integer),
    )
    multipart = Table(
        names["outbox_multipart"],
        md,
        Column("ID", Integer, primary_key=True),
        Column("SequencePosition", Integer),
        Column("TextDecoded", Text),
        Column("Coding", String),
        Column("UDH", Text),
        Column("Class", Integer),
    )
    sentitems = Table(
        names["sentitems"],
        md,
        Column("ID", Integer),
        Column("SequencePosition", Integer),
        Column("Status", String),
        Column("StatusError", Integer),
        Column("CreatorID", Text),
        Column("DestinationNumber", String),
        Column("TextDecoded", Text),
    )
    return outbox, multipart, sentitems


class GammuChannel:
    """SMS via Gammu SMSD's tables (see the module docs)."""

    kind = "gammu"
    transactional = True

    def __init__(self, name: str, settings: GammuChannelSettings) -> None:
        self.name = name
        self.settings = settings
        self.outbox, self.multipart, self.sentitems = gammu_tables(settings.table_prefix)

    def needs_address(self) -> bool:
        return True

    def prepare(self, engine: Engine) -> None:
        if self.settings.create_tables:
            ensure_schema(engine, self.settings.table_prefix)

    def deliver(self, session: Session | None, msg: Message) -> Outcome:
        if session is None:
            raise ValueError("the Gammu channel writes inside the sender's transaction")
        if msg.address is None:
            return Outcome("dead", error="no phone number")
        parts = split_sms(msg.text, ref=msg.delivery_id)
        multi = len(parts.parts) > 1
        outbox_id = session.execute(
            insert(self.outbox).returning(self.outbox.c.ID),
            {
                "DestinationNumber": msg.address,
                "TextDecoded": parts.parts[0],
                "Coding": parts.coding,
                "UDH": parts.udh[0],
                "MultiPart": multi,
                "CreatorID": f"{CREATOR_PREFIX}{msg.delivery_id}",
                "SenderID": self.settings.phone_id,
                "DeliveryReport": self.settings.delivery_report,
                "Class": -1,
            },
        ).scalar_one()
        if multi:
            session.execute(
                insert(self.multipart),
                [
                    {
                        "ID": outbox_id,
                        "SequencePosition": i,
                        "TextDecoded": part,
                        "Coding": parts.coding,
                        "UDH": udh,
                        "Class": -1,
                    }
                    for i, (part, udh) in enumerate(
                        zip(parts.parts[1:], parts.udh[1:], strict=True), start=2
                    )
                ],
            )
        return Outcome("queued", external_id=str(outbox_id))

    def poll(self, session: Session, queued: Sequence[tuple[int, str]]) -> dict[int, Outcome]:
        """Outcomes from ``sentitems``; a message still in Gammu's outbox stays queued."""
        by_gammu_id = {int(ext): delivery_id for delivery_id, ext in queued}
        if not by_gammu_id:
            return {}
        s = self.sentitems
        statuses: dict[int, list[tuple[str, int]]] = {}
        for chunk in chunks(by_gammu_id):
            rows = session.execute(
                select(s.c.ID, s.c.Status, s.c.StatusError, s.c.CreatorID).where(s.c.ID.in_(chunk))
            )
            for gammu_id, status, status_error, creator in rows:
                if creator == f"{CREATOR_PREFIX}{by_gammu_id[gammu_id]}":
                    statuses.setdefault(gammu_id, []).append((status, status_error))
        out: dict[int, Outcome] = {}
        for gammu_id, parts in statuses.items():
            delivery_id = by_gammu_id[gammu_id]
            failed = [(st, err) for st, err in parts if st in SENT_FAILED]
            if failed:
                st, err = failed[0]
                out[delivery_id] = Outcome("retry", str(gammu_id), f"gammu: {st} ({err})")
            elif all(st in SENT_OK for st, _ in parts):
                out[delivery_id] = Outcome("sent", str(gammu_id))
        still_there = self._in_outbox(session, [g for g in by_gammu_id if g not in statuses])
        for gammu_id in by_gammu_id:
            if gammu_id not in statuses and gammu_id not in still_there:
                out[by_gammu_id[gammu_id]] = Outcome(
                    "dead", str(gammu_id), "gone from Gammu's outbox without a sent record"
                )
        return out

    def _in_outbox(self, session: Session, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(ids):
            found.update(
                session.scalars(select(self.outbox.c.ID).where(self.outbox.c.ID.in_(chunk)))
            )
        return found

    def close(self) -> None:
        return None


def smsdrc(
    ledger_url: str,
    settings: GammuChannelSettings,
    *,
    device: str = "/dev/ttyUSB0",
    connection: str = "at",
    model: str = "",
    phone_id: str | None = None,
    logfile: Path | None = None,
    loop_sleep_s: int = 1,
    comm_timeout_s: int = 5,
) -> str:
    """A gammu-smsdrc for this database and table prefix (``model="dummy"`` for tests)."""
    url = make_url(ledger_url)
    lines = ["[gammu]", f"device = {device}", f"connection = {connection}"]
    if model:
        lines.append(f"model = {model}")
    lines += ["", "[smsd]", "service = sql"]
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database:
            raise ValueError("Gammu needs a SQLite file, not an in-memory database")
        db = Path(url.database).resolve()
        lines += ["driver = sqlite3", f"dbdir = {db.parent}", f"database = {db.name}"]
    elif backend == "postgresql":
        host = url.host or "localhost"
        lines += [
            "driver = native_pgsql",
            f"host = {host}:{url.port or 5432}",
            f"user = {url.username or ''}",
            f"password = {url.password or ''}",
            f"database = {url.database}",
        ]
    else:
        raise ValueError(f"Gammu SMSD cannot use a {backend} database")
    pid = phone_id or settings.phone_id
    if pid:
        lines.append(f"phoneid = {pid}")
    if logfile is not None:
        lines.append(f"logfile = {logfile}")
    lines += [
        "debuglevel = 0",
        f"loopsleep = {loop_sleep_s}",
        # seconds gammu-smsd waits after finding its outbox empty (its default is 30)
        f"commtimeout = {comm_timeout_s}",
        "receivefrequency = 300",
        "checksecurity = 0",
        "",
        "[tables]",
    ]
    lines += [
        f"{logical} = {physical}"
        for logical, physical in table_names(settings.table_prefix).items()
    ]
    return "\n".join(lines) + "\n"


def setup(settings: Any, *, channel: str, smsdrc_path: Path, device: str) -> int:
    """``salinmas notify gammu-setup``: Gammu's tables and a matching smsdrc (mode 0600)."""
    from cloud.db import make_engine

    cfg = settings.channels.get(channel)
    if not isinstance(cfg, GammuChannelSettings):
        print(f"[notify.channels.{channel}] is not a Gammu channel")
        return 2
    engine = make_engine(settings.ledger_url)
    try:
        created = ensure_schema(engine, cfg.table_prefix)
    finally:
        engine.dispose()
    smsdrc_path.write_text(smsdrc(settings.ledger_url, cfg, device=device))
    smsdrc_path.chmod(0o600)
    state = "created" if created else "already there"
    print(f"Gammu tables {state}; wrote {smsdrc_path} (start: gammu-smsd -c {smsdrc_path})")
    return 0
