"""The SQL tables gammu-smsd 1.42 uses (schema version 17), on SQLite or PostgreSQL.

Gammu's own schema (its documentation: gammu-smsd-tables(7); Debian ships it as
``/usr/share/doc/gammu-smsd/examples/{sqlite,pgsql}.sql``), minus the ``UpdatedInDB``
triggers, with a table-name prefix (``gammu_outbox``, ...) so Gammu's tables stand out in
the ledger's database. They are Gammu's, not the ledger's: created here, never by
Alembic (``cloud/migrations/env.py`` leaves them alone).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

#: the schema version gammu-smsd 1.42 checks in its ``gammu`` table
SCHEMA_VERSION = 17
LOGICAL_TABLES = ("gammu", "inbox", "outbox", "outbox_multipart", "sentitems", "phones")


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
