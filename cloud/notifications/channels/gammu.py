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

Gammu's tables get a prefix (``gammu_outbox``, ...; schema version 17) so they stand out
in the shared database; :func:`smsdrc` writes the gammu-smsdrc that matches (``[tables]``).
They are Gammu's, not the ledger's: created here (:func:`ensure_schema`), not by Alembic.
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
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from cloud.db import chunks
from cloud.notifications.channels.base import Message, Outcome
from cloud.notifications.channels.sms import split_sms
from cloud.notifications.settings import GammuChannelSettings

#: the schema version gammu-smsd 1.42 checks in its ``gammu`` table
SCHEMA_VERSION = 17
LOGICAL_TABLES = ("gammu", "inbox", "outbox", "outbox_multipart", "sentitems", "phones")
SENT_OK = frozenset({"SendingOK", "SendingOKNoReport", "DeliveryOK", "DeliveryPending",
                     "DeliveryUnknown"})  # fmt: skip
SENT_FAILED = frozenset({"SendingError", "Error", "DeliveryFailed"})
CREATOR_PREFIX = "salinmas:"


def table_names(prefix: str) -> dict[str, str]:
    """Logical Gammu table -> table in the database (``gammu`` -> ``<prefix>version``)."""
    if not prefix:
        return {t: t for t in LOGICAL_TABLES}
    return {t: prefix + ("version" if t == "gammu" else t) for t in LOGICAL_TABLES}


_CODING = (
    "CHECK ({q}Coding{q} IN ('Default_No_Compression','Unicode_No_Compression','8bit',"
    "'Default_Compression','Unicode_Compression'))"
)
_STATUS = (
    "'SendingOK','SendingOKNoReport','SendingError','DeliveryOK','DeliveryFailed',"
    "'DeliveryPending','DeliveryUnknown','Error'"
)

# Gammu's own schema (docs: gammu-smsd-tables(7); Debian ships it as
# /usr/share/doc/gammu-smsd/examples/{sqlite,pgsql}.sql), without its UpdatedInDB triggers.
_SQLITE = """
CREATE TABLE IF NOT EXISTS {gammu} (Version INTEGER NOT NULL DEFAULT '0' PRIMARY KEY);
CREATE TABLE IF NOT EXISTS {inbox} (
  UpdatedInDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  ReceivingDateTime NUMERIC NOT NULL DEFAULT (datetime('now')),
  Text TEXT NOT NULL, SenderNumber TEXT NOT NULL DEFAULT '',
  Coding TEXT NOT NULL DEFAULT 'Default_No_Compression', UDH TEXT NOT NULL,
  SMSCNumber TEXT NOT NULL DEFAULT '', Class INTEGER NOT NULL DEFAULT '-1',
  TextDecoded TEXT NOT NULL DEFAULT '', ID INTEGER PRIMARY KEY AUTOINCREMENT,
  RecipientID TEXT NOT NULL, Processed TEXT NOT NULL DEFAULT 'false',
  Status INTEGER NOT NULL DEFAULT '-1', {coding});
CREATE TABLE IF NOT EXISTS {outbox} (
  UpdatedInDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  InsertIntoDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  SendingDateTime NUMERIC NOT NULL DEFAULT (datetime('now')),
  SendBefore time NOT NULL DEFAULT '23:59:59', SendAfter time NOT NULL DEFAULT '00:00:00',
  Text TEXT, DestinationNumber TEXT NOT NULL DEFAULT '',
  Coding TEXT NOT NULL DEFAULT 'Default_No_Compression', UDH TEXT,
  Class INTEGER DEFAULT '-1', TextDecoded TEXT NOT NULL DEFAULT '',
  ID INTEGER PRIMARY KEY AUTOINCREMENT, MultiPart TEXT NOT NULL DEFAULT 'false',
  RelativeValidity INTEGER DEFAULT '-1', SenderID TEXT,
  SendingTimeOut NUMERIC NOT NULL DEFAULT (datetime('now')),
  DeliveryReport TEXT DEFAULT 'default', CreatorID TEXT NOT NULL,
  Retries INTEGER DEFAULT '0', Priority INTEGER DEFAULT '0',
  Status TEXT NOT NULL DEFAULT 'Reserved', StatusCode INTEGER NOT NULL DEFAULT '-1',
  {coding}, CHECK (DeliveryReport IN ('default','yes','no')),
  CHECK (Status IN ({status},'Reserved')));
CREATE INDEX IF NOT EXISTS {outbox}_date ON {outbox}(SendingDateTime, SendingTimeOut);
CREATE INDEX IF NOT EXISTS {outbox}_sender ON {outbox}(SenderID);
CREATE TABLE IF NOT EXISTS {outbox_multipart} (
  Text TEXT, Coding TEXT NOT NULL DEFAULT 'Default_No_Compression', UDH TEXT,
  Class INTEGER DEFAULT '-1', TextDecoded TEXT DEFAULT NULL, ID INTEGER,
  SequencePosition INTEGER NOT NULL DEFAULT '1', Status TEXT NOT NULL DEFAULT 'Reserved',
  StatusCode INTEGER NOT NULL DEFAULT '-1', {coding},
  CHECK (Status IN ({status},'Reserved')), PRIMARY KEY (ID, SequencePosition));
CREATE TABLE IF NOT EXISTS {phones} (
  ID TEXT NOT NULL, UpdatedInDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  InsertIntoDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  TimeOut NUMERIC NOT NULL DEFAULT (datetime('now')), Send TEXT NOT NULL DEFAULT 'no',
  Receive TEXT NOT NULL DEFAULT 'no', IMEI TEXT PRIMARY KEY NOT NULL, IMSI TEXT NOT NULL,
  NetCode TEXT DEFAULT 'ERROR', NetName TEXT DEFAULT 'ERROR', Client TEXT NOT NULL,
  Battery INTEGER NOT NULL DEFAULT -1, Signal INTEGER NOT NULL DEFAULT -1,
  Sent INTEGER NOT NULL DEFAULT 0, Received INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS {sentitems} (
  UpdatedInDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  InsertIntoDB NUMERIC NOT NULL DEFAULT (datetime('now')),
  SendingDateTime NUMERIC NOT NULL DEFAULT (datetime('now')), DeliveryDateTime NUMERIC NULL,
  Text TEXT NOT NULL, DestinationNumber TEXT NOT NULL DEFAULT '',
  Coding TEXT NOT NULL DEFAULT 'Default_No_Compression', UDH TEXT NOT NULL,
  SMSCNumber TEXT NOT NULL DEFAULT '', Class INTEGER NOT NULL DEFAULT '-1',
  TextDecoded TEXT NOT NULL DEFAULT '', ID INTEGER, SenderID TEXT NOT NULL,
  SequencePosition INTEGER NOT NULL DEFAULT '1', Status TEXT NOT NULL DEFAULT 'SendingOK',
  StatusError INTEGER NOT NULL DEFAULT '-1', TPMR INTEGER NOT NULL DEFAULT '-1',
  RelativeValidity INTEGER NOT NULL DEFAULT '-1', CreatorID TEXT NOT NULL,
  StatusCode INTEGER NOT NULL DEFAULT '-1', CHECK (Status IN ({status})), {coding},
  PRIMARY KEY (ID, SequencePosition));
CREATE INDEX IF NOT EXISTS {sentitems}_date ON {sentitems}(DeliveryDateTime);
CREATE INDEX IF NOT EXISTS {sentitems}_tpmr ON {sentitems}(TPMR);
CREATE INDEX IF NOT EXISTS {sentitems}_dest ON {sentitems}(DestinationNumber);
CREATE INDEX IF NOT EXISTS {sentitems}_sender ON {sentitems}(SenderID);
"""

_TS = "timestamp(0) WITHOUT time zone NOT NULL DEFAULT LOCALTIMESTAMP(0)"
_PGSQL = """
CREATE TABLE IF NOT EXISTS {gammu} ("Version" smallint NOT NULL DEFAULT '0' PRIMARY KEY);
CREATE TABLE IF NOT EXISTS {inbox} (
  "UpdatedInDB" {ts}, "ReceivingDateTime" {ts}, "Text" text NOT NULL,
  "SenderNumber" varchar(20) NOT NULL DEFAULT '',
  "Coding" varchar(255) NOT NULL DEFAULT 'Default_No_Compression', "UDH" text NOT NULL,
  "SMSCNumber" varchar(20) NOT NULL DEFAULT '', "Class" integer NOT NULL DEFAULT '-1',
  "TextDecoded" text NOT NULL DEFAULT '', "ID" serial PRIMARY KEY,
  "RecipientID" text NOT NULL, "Processed" boolean NOT NULL DEFAULT 'false',
  "Status" integer NOT NULL DEFAULT '-1', {coding});
CREATE TABLE IF NOT EXISTS {outbox} (
  "UpdatedInDB" {ts}, "InsertIntoDB" {ts},
  "SendingDateTime" timestamp NOT NULL DEFAULT LOCALTIMESTAMP(0),
  "SendBefore" time NOT NULL DEFAULT '23:59:59', "SendAfter" time NOT NULL DEFAULT '00:00:00',
  "Text" text, "DestinationNumber" varchar(20) NOT NULL DEFAULT '',
  "Coding" varchar(255) NOT NULL DEFAULT 'Default_No_Compression', "UDH" text,
  "Class" integer DEFAULT '-1', "TextDecoded" text NOT NULL DEFAULT '',
  "ID" serial PRIMARY KEY, "MultiPart" boolean NOT NULL DEFAULT 'false',
  "RelativeValidity" integer DEFAULT '-1', "SenderID" varchar(255),
  "SendingTimeOut" {ts}, "DeliveryReport" varchar(10) DEFAULT 'default',
  "CreatorID" text NOT NULL, "Retries" integer DEFAULT '0', "Priority" integer DEFAULT '0',
  "Status" varchar(255) NOT NULL DEFAULT 'Reserved', "StatusCode" integer NOT NULL DEFAULT '-1',
  {coding}, CHECK ("DeliveryReport" IN ('default','yes','no')),
  CHECK ("Status" IN ({status},'Reserved')));
CREATE INDEX IF NOT EXISTS {outbox}_date ON {outbox}("SendingDateTime", "SendingTimeOut");
CREATE INDEX IF NOT EXISTS {outbox}_sender ON {outbox}("SenderID");
CREATE TABLE IF NOT EXISTS {outbox_multipart} (
  "Text" text, "Coding" varchar(255) NOT NULL DEFAULT 'Default_No_Compression', "UDH" text,
  "Class" integer DEFAULT '-1', "TextDecoded" text DEFAULT NULL, "ID" serial,
  "SequencePosition" integer NOT NULL DEFAULT '1',
  "Status" varchar(255) NOT NULL DEFAULT 'Reserved', "StatusCode" integer NOT NULL DEFAULT '-1',
  PRIMARY KEY ("ID", "SequencePosition"), {coding},
  CHECK ("Status" IN ({status},'Reserved')));
CREATE TABLE IF NOT EXISTS {phones} (
  "ID" text NOT NULL, "UpdatedInDB" {ts}, "InsertIntoDB" {ts}, "TimeOut" {ts},
  "Send" boolean NOT NULL DEFAULT 'no', "Receive" boolean NOT NULL DEFAULT 'no',
  "IMEI" varchar(35) PRIMARY KEY NOT NULL, "IMSI" varchar(35) NOT NULL,
  "NetCode" varchar(10) DEFAULT 'ERROR', "NetName" varchar(35) DEFAULT 'ERROR',
  "Client" text NOT NULL, "Battery" integer NOT NULL DEFAULT -1,
  "Signal" integer NOT NULL DEFAULT -1, "Sent" integer NOT NULL DEFAULT 0,
  "Received" integer NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS {sentitems} (
  "UpdatedInDB" {ts}, "InsertIntoDB" {ts}, "SendingDateTime" {ts},
  "DeliveryDateTime" timestamp(0) WITHOUT time zone NULL, "Text" text NOT NULL,
  "DestinationNumber" varchar(20) NOT NULL DEFAULT '',
  "Coding" varchar(255) NOT NULL DEFAULT 'Default_No_Compression', "UDH" text NOT NULL,
  "SMSCNumber" varchar(20) NOT NULL DEFAULT '', "Class" integer NOT NULL DEFAULT '-1',
  "TextDecoded" text NOT NULL DEFAULT '', "ID" serial, "SenderID" varchar(255) NOT NULL,
  "SequencePosition" integer NOT NULL DEFAULT '1',
  "Status" varchar(255) NOT NULL DEFAULT 'SendingOK',
  "StatusError" integer NOT NULL DEFAULT '-1', "TPMR" integer NOT NULL DEFAULT '-1',
  "RelativeValidity" integer NOT NULL DEFAULT '-1', "CreatorID" text NOT NULL,
  "StatusCode" integer NOT NULL DEFAULT '-1', CHECK ("Status" IN ({status})), {coding},
  PRIMARY KEY ("ID", "SequencePosition"));
CREATE INDEX IF NOT EXISTS {sentitems}_date ON {sentitems}("DeliveryDateTime");
CREATE INDEX IF NOT EXISTS {sentitems}_tpmr ON {sentitems}("TPMR");
CREATE INDEX IF NOT EXISTS {sentitems}_dest ON {sentitems}("DestinationNumber");
CREATE INDEX IF NOT EXISTS {sentitems}_sender ON {sentitems}("SenderID");
"""

#: PostgreSQL advisory lock held while creating Gammu's tables (senders start together)
_SCHEMA_LOCK = 5_812_020_618


def schema_statements(dialect: str, prefix: str) -> list[str]:
    """The DDL of Gammu's tables for ``dialect`` (``sqlite`` | ``postgresql``)."""
    names = table_names(prefix)
    if dialect == "sqlite":
        script = _SQLITE.format(**names, coding=_CODING.format(q=""), status=_STATUS)
    elif dialect == "postgresql":
        script = _PGSQL.format(**names, coding=_CODING.format(q='"'), status=_STATUS, ts=_TS)
    else:
        raise ValueError(
            f"Gammu SMSD's SQL tables are made for sqlite or postgresql, not {dialect}"
        )
    return [s.strip() for s in script.split(";") if s.strip()]


def ensure_schema(engine: Engine, prefix: str) -> bool:
    """Create Gammu's tables when missing; ``True`` if they were created."""
    names = table_names(prefix)
    if inspect(engine).has_table(names["sentitems"]):
        return False
    version_q = '"Version"' if engine.dialect.name == "postgresql" else "Version"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        for stmt in schema_statements(engine.dialect.name, prefix):
            conn.exec_driver_sql(stmt)
        conn.exec_driver_sql(
            f"INSERT INTO {names['gammu']} ({version_q}) SELECT {SCHEMA_VERSION} "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {names['gammu']})"
        )
    return True


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
        names["outbox"], md,
        Column("ID", Integer, primary_key=True), Column("DestinationNumber", String),
        Column("TextDecoded", Text), Column("Coding", String), Column("UDH", Text),
        Column("MultiPart", _GammuBool), Column("CreatorID", Text), Column("SenderID", String),
        Column("DeliveryReport", String), Column("Class", Integer),
    )  # fmt: skip
    multipart = Table(
        names["outbox_multipart"], md,
        Column("ID", Integer, primary_key=True), Column("SequencePosition", Integer),
        Column("TextDecoded", Text), Column("Coding", String), Column("UDH", Text),
        Column("Class", Integer),
    )  # fmt: skip
    sentitems = Table(
        names["sentitems"], md,
        Column("ID", Integer), Column("SequencePosition", Integer), Column("Status", String),
        Column("StatusError", Integer), Column("CreatorID", Text),
        Column("DestinationNumber", String), Column("TextDecoded", Text),
    )  # fmt: skip
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
                    {"ID": outbox_id, "SequencePosition": i, "TextDecoded": part,
                     "Coding": parts.coding, "UDH": udh, "Class": -1}
                    for i, (part, udh) in enumerate(
                        zip(parts.parts[1:], parts.udh[1:], strict=True), start=2
                    )
                ],
            )  # fmt: skip
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
    lines += [f"{logical} = {physical}" for logical, physical in
              table_names(settings.table_prefix).items()]  # fmt: skip
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
