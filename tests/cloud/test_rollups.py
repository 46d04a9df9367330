"""The charts read the rollups where they are covered and final, the raw points elsewhere.

Against InfluxDB 1.6.7 for real: history is backfilled, the raw points deleted, and the
old days are still charted, the same as before; a reading delivered days late reaches
the rollup; recent days come from the raw points. The cutting rules are checked alone.

mutant: the reader never reads a rollup (split -> raw only) -> test_old_days_..._backfilled
mutant: backfill without moving the coverage marker -> test_old_days_..._backfilled
mutant: final_before = now (buckets no query has run for, from the rollup) -> test_split_...
        and test_a_bucket_no_query_has_run_for_comes_from_the_raw_points
mutant: remove_through ignores ``late`` (no re-roll) -> test_a_reading_days_late_...
mutant: reroll_statements without the keep_since clamp -> test_reroll_statements_...
mutant: rollup.ceil -> rollup.floor in split's lower bound -> test_split_...
mutant: category_days always reads the per-site rollup -> test_old_days_... (per station)
mutant: late_before = the query's window (the old rule) -> test_late_keys_...
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cloud.telemetry import TelemetrySettings, fill_point, open_reader, open_writer, weighin_point
from cloud.telemetry.influx_reader import InfluxReader
from cloud.telemetry.influx_writer import InfluxWriter
from cloud.telemetry.rollups import (
    FILL_HOURLY,
    WEIGHIN_DAILY,
    backfill,
    late_keys,
    read_coverage,
    reroll_statements,
    split,
)
from stack.cli import main
from tests.cloud.factories import fill, weighin
from tests.support.services import InfluxServer
from tests.support.waiting import wait_until

JKT = ZoneInfo("Asia/Jakarta")
_db = itertools.count(1)


def _local(day: datetime, hour: int) -> datetime:
    """``hour`` o'clock in Jakarta on ``day``'s local date, in UTC."""
    d = day.astimezone(JKT).date()
    return datetime(d.year, d.month, d.day, hour, tzinfo=JKT).astimezone(UTC)


# ----------------------------------------------------------------- the rules alone


def test_split_takes_whole_covered_final_buckets_from_the_rollup() -> None:
    now = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)  # 17:30 in Jakarta
    covered = datetime(2026, 11, 10, 17, 0, tzinfo=UTC)  # midnight of 11 Nov, local
    start = datetime(2026, 11, 5, 5, 0, tzinfo=UTC)  # mid-day, local
    got = split(WEIGHIN_DAILY, start, now, covered_from=covered, now=now, tz=JKT)
    # covered from 11 Nov; final up to today (yesterday ended, and a query ran since)
    lo, hi = _local(covered, 0), _local(now, 0)
    assert got.rollup == (lo, hi)
    assert got.raw == ((start, lo), (hi, now))
    # nothing covered: the raw points only
    assert split(WEIGHIN_DAILY, start, now, covered_from=None, now=now, tz=JKT).raw == (
        (start, now),
    )
    # just after midnight yesterday is not final yet (the hourly query has not run)
    early = _local(now, 0) + timedelta(minutes=30)
    assert split(WEIGHIN_DAILY, start, early, covered_from=covered, now=early, tz=JKT).rollup == (
        lo,
        _local(now - timedelta(days=1), 0),
    )
    # a range that starts mid-bucket leaves that bucket to the raw points; the hour that
    # ended 10 minutes ago waits for the query's run and its margin
    mid = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)
    hourly = split(FILL_HOURLY, mid, now, covered_from=covered, now=now, tz=JKT)
    assert hourly.rollup == (
        datetime(2026, 11, 20, 4, tzinfo=UTC),
        datetime(2026, 12, 2, 10, tzinfo=UTC),
    )
    hourly = split(FILL_HOURLY, mid, now - timedelta(minutes=20), covered_from=covered,
                   now=now - timedelta(minutes=20), tz=JKT)  # fmt: skip
    assert hourly.rollup is not None
    assert hourly.rollup[1] == datetime(2026, 12, 2, 9, tzinfo=UTC)


def test_late_keys_name_the_bucket_and_the_series_owner() -> None:
    now = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)  # 17:30 local
    old = datetime(2026, 11, 20, 18, 20, tzinfo=UTC)  # 21 Nov 01:20 local
    lines = [
        f"fill,bin=bn-7,device=bn-7,site=bank01 fill_pct=5 {_ns(old)}",
        f"fill,bin=bn-8,device=bn-8 fill_pct=5 {_ns(now - timedelta(minutes=10))}",  # this hour
        f"fill,bin=bn-9,device=bn-9 fill_pct=5 {_ns(now - timedelta(minutes=40))}",  # last hour
        f"weighin,category=pet,device=st-1,site=b net_g=5i {_ns(old)}",
        f"weighin,category=pet,device=st-2,site=b net_g=5i {_ns(now - timedelta(hours=1))}",
        f"health,device=st-1 load1=1 {_ns(old)}",  # no rollup
        "fill,bin=bn-10 fill_pct=5",  # no timestamp: not one of the writer's lines
    ]
    assert late_keys(lines, now=now, tz=JKT) == {
        ("fill_hourly", "bn-7", _ns(datetime(2026, 11, 20, 18, tzinfo=UTC))),
        ("fill_hourly", "bn-9", _ns(datetime(2026, 12, 2, 9, tzinfo=UTC))),
        ("weighin_daily", "st-1", _ns(_local(old, 0))),
        ("weighin_daily_site", "b", _ns(_local(old, 0))),
    }


def test_reroll_statements_coalesce_and_never_roll_a_partly_expired_bucket() -> None:
    h = datetime(2026, 11, 20, 18, tzinfo=UTC)
    keys = [("fill_hourly", "bn-7", _ns(h + timedelta(hours=i))) for i in (0, 1, 2, 5)]
    keys.append(("fill_hourly", "bn-7", _ns(h - timedelta(days=30))))  # raw partly gone
    got = reroll_statements(keys, database="db", tz=JKT, keep_since=h - timedelta(days=1))
    assert len(got) == 2  # 18:00-21:00 in one statement, 23:00 in another; none for -30 d
    assert "time >= '2026-11-20T18:00:00.000000Z' AND time < '2026-11-20T21:00:00" in got[0]
    assert "\"bin\" = 'bn-7'" in got[0]
    assert "time >= '2026-11-20T23:00:00.000000Z' AND time < '2026-11-21T00:00:00" in got[1]
    crowd = [("fill_hourly", f"bn-{i}", _ns(h)) for i in range(100)]  # an outage's backlog
    (whole,) = reroll_statements(crowd, database="db", tz=JKT, keep_since=None)
    assert '"bin" =' not in whole


def _ns(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


# ----------------------------------------------------------------- against InfluxDB

pytestmark = pytest.mark.integration


class _Influx:
    def __init__(self, server: InfluxServer, tmp_path: Path) -> None:
        settings = TelemetrySettings(
            backend="influx",
            influx_url=server.url,
            influx_database=f"roll_{next(_db)}",
            buffer_path=tmp_path / "buffer.db",
            flush_interval_s=0.05,
            max_backoff_s=0.5,
        )
        writer, reader = open_writer(settings), open_reader(settings)
        assert isinstance(writer, InfluxWriter)
        assert isinstance(reader, InfluxReader)
        self.writer, self.reader = writer, reader
        writer.start()
        wait_until(lambda: writer.ready, 10, "setup")

    def put(self, points: list[object]) -> None:
        self.writer.write(points)  # type: ignore[arg-type]
        assert self.writer.flush(30)

    def drop_raw(self, measurement: str, before: datetime) -> None:
        self.writer.conn.query(
            f"DELETE FROM \"{measurement}\" WHERE time < '{before.isoformat()}'", write=True
        )


def _backfill(influx: _Influx, since: datetime) -> dict[str, datetime]:
    return backfill(influx.writer.conn, tz=JKT, since=since)


@pytest.fixture
def influx(influxdb: InfluxServer, tmp_path: Path) -> Iterator[_Influx]:
    s = _Influx(influxdb, tmp_path)
    yield s
    s.writer.close()
    s.reader.close()


def _weighin(seq: int, at: datetime, device: str = "st-bank01", net_g: int = 1000) -> object:
    ev = weighin(device, seq=seq, device_time=at, net_g=net_g)
    return weighin_point(
        ev,
        at=at,
        site="bank01",
        status="credited",
        amount_rp=3 * net_g,
        price_rp_per_kg=3000,
        household_id=1,
    )


def test_old_days_are_still_charted_once_backfilled_and_their_raw_points_gone(
    influx: _Influx,
) -> None:
    now = datetime.now(UTC)
    days = [now - timedelta(days=d) for d in (20, 19, 12)]
    points = [
        _weighin(i * 10 + j + 1, _local(d, 8 + j), net_g=1000 * (j + 1))
        for i, d in enumerate(days)
        for j in range(3)
    ]
    rejected = weighin("st-bank01", seq=99, device_time=_local(days[0], 9))
    points.append(
        weighin_point(
            rejected,
            at=_local(days[0], 9),
            site="bank01",
            status="rejected",
            amount_rp=0,
            price_rp_per_kg=None,
            household_id=None,
        )
    )
    bin_hours = [_local(days[1], 10) + timedelta(minutes=10 * m) for m in range(12)]
    points += [
        fill_point(fill(seq=m + 1, device_time=t, fill_pct=float(m)), at=t, site="b", category="p")
        for m, t in enumerate(bin_hours)
    ]
    influx.put(points)
    window = (now - timedelta(days=25), now)
    before_days = influx.reader.category_days(start=window[0], end=window[1])
    before_fill = influx.reader.fill_history(bin_id="bn-bin01", start=window[0], end=window[1])
    assert [(d.net_g, d.weighins) for d in before_days] == [(6000, 3)] * 3
    assert [s.fill_pct for s in before_fill] == [2.5, 8.5]
    by_before = {
        by: influx.reader.category_days(start=window[0], end=window[1], by=by)
        for by in ("site", "device")
    }
    station_before = influx.reader.category_days(start=window[0], end=window[1], device="st-bank01")
    assert [d.site for d in by_before["site"]] == ["bank01"] * 3
    assert [d.device for d in by_before["device"]] == ["st-bank01"] * 3
    assert len(station_before) == 3

    covered = _backfill(influx, now - timedelta(days=30))
    assert covered["weighin_daily"] <= _local(days[0], 0)
    assert covered["fill_hourly"] <= bin_hours[0]
    assert read_coverage(influx.writer.conn) == covered
    cutoff = now - timedelta(days=5)
    influx.drop_raw("weighin", cutoff)
    influx.drop_raw("fill", cutoff)

    assert influx.reader.category_days(start=window[0], end=window[1]) == before_days
    assert (
        influx.reader.fill_history(bin_id="bn-bin01", start=window[0], end=window[1]) == before_fill
    )
    # per site and per station too (the per-station rollup)
    for by in ("site", "device"):
        assert influx.reader.category_days(start=window[0], end=window[1], by=by) == by_before[by]
    one = influx.reader.category_days(start=window[0], end=window[1], device="st-bank01")
    assert one == station_before
    assert influx.reader.category_days(start=window[0], end=window[1], device="st-other") == []


def test_a_reading_days_late_reaches_the_rollup(influx: _Influx) -> None:
    now = datetime.now(UTC)
    day = now - timedelta(days=10)
    influx.put([_weighin(1, _local(day, 9))])
    _backfill(influx, now - timedelta(days=30))
    rerolled = influx.writer.rerolled
    influx.put([_weighin(2, _local(day, 10), net_g=500)])  # an outbox's late delivery
    wait_until(lambda: influx.writer.rerolled > rerolled, 10, "the late bucket rolled up")
    influx.drop_raw("weighin", now - timedelta(days=5))
    (got,) = influx.reader.category_days(start=now - timedelta(days=15), end=now)
    assert (got.day, got.net_g, got.weighins) == (day.astimezone(JKT).date(), 1500, 2)
    assert influx.writer.buffer.late() == []


def test_a_bucket_no_query_has_run_for_comes_from_the_raw_points(influx: _Influx) -> None:
    """Today's weigh-in, read as if it were 00:30 tomorrow: yesterday by then, but the
    hourly query has not run for it, and nothing re-rolls a reading that came in time."""
    now = datetime.now(UTC)
    _backfill(influx, now - timedelta(days=30))
    influx.put([_weighin(1, now - timedelta(minutes=1))])
    assert influx.writer.buffer.late() == []
    later = _local(now + timedelta(days=1), 0) + timedelta(minutes=30)
    influx.reader.now = lambda: later
    got = influx.reader.category_days(start=now - timedelta(days=7), end=later)
    assert sum(d.weighins for d in got) == 1


def test_the_rollup_command_backfills_from_a_config(
    influx: _Influx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``salinmas ingest rollup --config F --since DAY``, as docs/operations.md says."""
    now = datetime.now(UTC)
    day = now - timedelta(days=8)
    influx.put([_weighin(1, _local(day, 9))])
    config = tmp_path / "cloud.toml"
    config.write_text(
        "[ingest.telemetry]\n"
        'backend = "influx"\n'
        f'influx_url = "{influx.writer.conn.url}"\n'
        f'influx_database = "{influx.writer.conn.database}"\n'
    )
    since = (now - timedelta(days=10)).astimezone(JKT).date()
    assert main(["ingest", "rollup", "--config", str(config), "--since", since.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"weighin_daily: complete from {since:%Y-%m-%d} 00:00 WIB" in out
    assert read_coverage(influx.writer.conn)["weighin_daily"] == _local(
        datetime.combine(since, datetime.min.time(), JKT), 0
    )
    influx.drop_raw("weighin", now - timedelta(days=5))
    (got,) = influx.reader.category_days(start=now - timedelta(days=10), end=now)
    assert got.net_g == 1000


def test_a_failing_reroll_never_holds_up_sending(
    influx: _Influx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mutant: _reroll lets the error through (the sender backs off) -> flush times out"""
    now = datetime.now(UTC)
    _backfill(influx, now - timedelta(days=30))
    influx.writer.reroll_interval_s = 0.5
    monkeypatch.setattr(
        "cloud.telemetry.influx_writer.reroll_statements",
        lambda *_a, **_k: ['SELECT nonsense INTO "x" FROM'],
    )
    influx.put([_weighin(1, now - timedelta(days=10))])  # late: its re-roll fails
    wait_until(lambda: influx.writer.reroll_failures > 0, 10, "a failed re-roll")
    for seq in range(2, 12):  # sending goes on meanwhile, at its own pace
        influx.writer.write([_weighin(seq, now - timedelta(minutes=seq))])  # type: ignore[list-item]
        assert influx.writer.flush(2)
    assert influx.reader.count("weighin") == 11
    assert len(influx.writer.buffer.late()) == 2  # kept for the next try (station, site)
    monkeypatch.undo()
    wait_until(lambda: influx.writer.buffer.late() == [], 10, "the re-roll once it works")
