"""SMS through a real gammu-smsd 1.42 (dummy phone) on the ledger database.

What this shows, on SQLite (libdbi) and PostgreSQL (native driver): the sender hands each
SMS to Gammu's outbox once, gammu-smsd moves it to ``sentitems`` (``SendingOKNoReport``
on the dummy phone), the sender reads that back and marks the delivery sent; a long text
goes as a concatenated SMS; a sender killed in the middle of the hand-over leaves no SMS
and the next sender makes exactly one.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud.db import make_engine, migrate, session_factory
from cloud.notifications import enqueue
from cloud.notifications.channels.gammu import GammuChannel, ensure_schema, table_names
from cloud.notifications.preferences import ChannelSpec
from cloud.notifications.sender import Sender
from cloud.notifications.settings import GammuChannelSettings, NotifySettings
from tests.cloud.notify_support import (
    E164,
    SenderProcess,
    credit_data,
    deliveries,
    kill_sender_mid_hand_over,
    notify_config,
    seed,
)
from tests.support.gammu import GammuSmsd
from tests.support.services import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SMS = GammuChannelSettings()
T = table_names(SMS.table_prefix)


def sentitems(engine: Engine) -> list[tuple[int, int, str, str, str, str]]:
    q = "ID, SequencePosition, Status, DestinationNumber, TextDecoded, CreatorID"
    if engine.dialect.name == "postgresql":
        q = ", ".join(f'"{c.strip()}"' for c in q.split(","))
    with engine.connect() as c:
        rows = c.exec_driver_sql(f"SELECT {q} FROM {T['sentitems']} ORDER BY 1, 2").all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


DEBIAN_SQL = Path("/usr/share/doc/gammu-smsd/examples/sqlite.sql")


def test_our_gammu_tables_have_the_columns_of_gammus_own_schema(tmp_path: Path) -> None:
    """The tables we create match the schema gammu-smsd's package ships, column for column
    (a newer Gammu with another schema shows up here, not at a modem)."""
    ours, theirs = sqlite3.connect(tmp_path / "ours.db"), sqlite3.connect(":memory:")
    engine = make_engine(f"sqlite:///{tmp_path / 'ours.db'}")
    try:
        ensure_schema(engine, SMS.table_prefix)
        theirs.executescript(DEBIAN_SQL.read_text())
        for logical, ours_name in T.items():

            def columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
                return [(r[1], r[2].upper()) for r in db.execute(f"PRAGMA table_info({table})")]

            assert columns(ours, ours_name) == columns(theirs, logical), logical
        (version,) = theirs.execute("SELECT Version FROM gammu").fetchone()
        assert ours.execute(f"SELECT Version FROM {T['gammu']}").fetchone() == (version,)
    finally:
        engine.dispose()
        ours.close()
        theirs.close()


def test_sms_go_through_gammu_once_and_come_back_sent(
    engine: Engine, ledger_url: str, session: Session
) -> None:
    """The same credit enqueued three times -> one SMS in sentitems; a long text -> 2 parts.

    mutant: poll treats 'SendingOKNoReport' (the dummy phone's, and a modem's without
    delivery reports) as a failure -> each SMS is retried: more rows in sentitems.
    """
    p = seed(session, channels=[ChannelSpec("sms", "gammu", household_default=True)])
    hh = p.with_phone
    for _ in range(3):
        enqueue(session, "weighin_credited", key="w:st-1:1", data=credit_data(1), household_id=hh)
    long = {
        "pickup_id": "7",
        "collector": "Pak Slamet " + "sangat " * 20,
        "category": "plastic-pet",
    }
    enqueue(session, "pickup_on_the_way", key="p:7:otw", data=long, household_id=hh)
    session.commit()
    settings = NotifySettings(
        ledger_url=ledger_url,
        migrate_on_start=False,
        quiet_hours="",
        poll_interval_s=0.1,
        channels={"sms": SMS},
    )
    sender = Sender(settings, engine=engine)
    sender.prepare()
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,))
    with GammuSmsd(ledger_url, SMS) as gammu:
        thread.start()
        try:
            wait_until(
                lambda: [d.status for d in deliveries(session, "sms")] == ["sent", "sent"],
                30,
                "both SMS sent",
            )
            monitor = gammu.monitor()
        finally:
            stop.set()
            thread.join(10)
            sender.close()
    credit, pickup = deliveries(session, "sms")
    rows = sentitems(engine)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [
        (int(credit.external_id or 0), 1, "SendingOKNoReport", E164, f"salinmas:{credit.id}"),
        (int(pickup.external_id or 0), 1, "SendingOKNoReport", E164, f"salinmas:{pickup.id}"),
        (int(pickup.external_id or 0), 2, "SendingOKNoReport", E164, f"salinmas:{pickup.id}"),
    ]
    assert rows[0][4] == credit.body
    assert rows[0][4].startswith("Salinmas BMS-0001: 1,25 kg Plastik PET = Rp 3.750 masuk.")
    assert rows[1][4] + rows[2][4] == pickup.body
    assert (credit.attempts, pickup.attempts) == (1, 1)
    assert (monitor["Sent"], monitor["Failed"]) == ("3", "0")  # parts, as the modem counts


def test_a_sender_killed_mid_hand_over_leaves_no_sms_and_the_next_sends_one(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """PostgreSQL: the sender is killed while its INSERT into Gammu's outbox waits for a lock
    the test holds (claim and hand-over in one open transaction); afterwards exactly one SMS.

    mutant: the claim is committed before the hand-over (status 'sending' first) -> after the
    kill the delivery waits for its lease and the hand-over may happen twice.
    """
    url = postgres.create_database("notify_kill")
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            p = seed(s, channels=[ChannelSpec("sms", "gammu", household_default=True)])
            enqueue(s, "weighin_credited", key="w:1", data=credit_data(), household_id=p.with_phone)
            s.commit()
            GammuChannel("sms", SMS).prepare(engine)
            cfg = notify_config(
                tmp_path / "notify.toml", url, '[notify.channels.sms]\nkind = "gammu"\n'
            )
            kill_sender_mid_hand_over(engine, cfg, tmp_path / "sender1.log")
            assert sentitems(engine) == []
            (d,) = deliveries(s, "sms")
            assert (d.status, d.attempts) == ("pending", 0)
            with GammuSmsd(url, SMS):
                second = SenderProcess(cfg, tmp_path / "sender2.log").start()
                try:
                    wait_until(lambda: deliveries(s, "sms")[0].status == "sent", 30, "the SMS sent")
                finally:
                    second.stop()
            rows = sentitems(engine)
            (d,) = deliveries(s, "sms")
            assert len(rows) == 1
            assert rows[0][5] == f"salinmas:{d.id}"
            assert d.attempts == 1
    finally:
        engine.dispose()
