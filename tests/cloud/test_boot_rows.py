"""The boots' anchors (cloud/boots.py) are read once per batch and written in one flush.

A fleet's first batch after a deploy is mostly boots the cloud has never seen; each
used to cost a SELECT by primary key and a single-row INSERT of its own (the weigh-in
path's CPU doubled on a fresh ledger, ``bench.weighin_path``).

mutant: save() looks each boot up again (``session.get`` per key) -> the statement count
        grows with the boots and the first test fails
mutant: save() trusts rows read in another session -> the second session's update is
        lost and test_rows_read_in_another_session_are_looked_up_again fails
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select

from cloud.boots import BootClocks
from cloud.db import session_factory
from cloud.models import DeviceBoot

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def keys(n: int) -> list[tuple[str, str]]:
    return [(f"st-boot{i:03d}", f"boot-{i}") for i in range(n)]


def synced(clocks: BootClocks, key: tuple[str, str], minutes: int) -> None:
    at = T0 + timedelta(minutes=minutes)
    clocks.get(key).saw_event(at, True, 60_000 * minutes, at)


def stored(engine: Engine) -> dict[tuple[str, str], int | None]:
    with session_factory(engine)() as s:
        return {(r.device_id, r.boot_id): r.synced_mono_ms for r in s.scalars(select(DeviceBoot))}


def test_a_batch_of_boots_is_read_once_and_written_in_one_flush(engine: Engine) -> None:
    new, old = keys(60)[:40], keys(60)[40:]
    with session_factory(engine)() as s:  # 20 boots seen before
        first = BootClocks()
        first.load(s, old)
        for k in old:
            synced(first, k, 9)  # a later anchor: the batch below brings an earlier one
        first.save(s)
        s.commit()
    statements: list[str] = []

    def count(_c: object, _cur: object, sql: str, *_a: object) -> None:
        statements.append(sql.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_factory(engine)() as s:
            clocks = BootClocks()
            clocks.load(s, new + old)
            for k in new + old:
                synced(clocks, k, 5)
            assert clocks.save(s) == sorted(new + old)
            s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # one read, one locked re-read of the changed rows (cloud/boots.py: two workers), the
    # inserts of the new boots and the updates of the known ones as batches (SQLAlchemy
    # sends each as one executemany or multi-row statement)
    assert statements.count("SELECT") == 2, statements
    assert len(statements) <= 6, statements
    assert stored(engine) == {k: 300_000 for k in new + old}


def test_rows_read_in_another_session_are_looked_up_again(engine: Engine) -> None:
    (key,) = keys(1)
    clocks = BootClocks()
    with session_factory(engine)() as s:
        clocks.load(s, [key])  # no row yet
        synced(clocks, key, 9)
        clocks.save(s)
        s.commit()
    with session_factory(engine)() as s:  # the same clocks, a new session
        synced(clocks, key, 1)  # an earlier anchor of the boot
        clocks.save(s)
        s.commit()
    assert stored(engine) == {key: 60_000}
