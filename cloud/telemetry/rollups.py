"""The InfluxDB rollups: what they hold, when a bucket is final, what they cover.

Three rollups live in the retention policy ``salinmas_rollup`` (kept for ever, while raw
points expire after ``influx_retention``): hourly fill per bin (``fill_hourly``: mean and
max), and daily weight, money and count per category on the programme's local days,
per station (``weighin_daily``) and per site (``weighin_daily_site``: ~40x fewer series
at regency size, where a month of the per-station rollup took InfluxDB ~9 s to sum);
rejected weigh-ins (which have no category) left out. Each is made three ways, all from
the one ``SELECT ... INTO`` of :meth:`Rollup.select_into`:

- a **continuous query** (``RESAMPLE EVERY .. FOR ..``) recomputes the last ``window``;
- a **re-roll** by the writer of the bucket of every reading InfluxDB accepts after its
  bucket ended (a late outbox, the buffer after an outage, a reading a moment past the
  hour), for its bin, station or site only (:func:`late_keys`);
- a **backfill** (``salinmas ingest rollup``) over history written before the query.

So a bucket is complete once the first query run after its end has run (``every``, and
a margin for the run itself: :meth:`Rollup.final_before`), and stays complete (every
reading for it arriving later is re-rolled). **Coverage**: one marker point per rollup
(measurement ``rollup_coverage`` in the rollup policy) says from when the rollup is
complete. The writer sets it when it first finds a query without one (the query's first
run covers from there), a backfill moves it back chunk by chunk. A reader takes from the
rollup only the whole buckets that are covered and final (:func:`split`), and the rest
from the raw points, aggregated the same way: a chart is the same whichever it read.
"""

# InfluxQL is built with every value escaped (q / ident): not SQL injection.
# ruff: noqa: S608
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.telemetry.influx import (
    InfluxConnection,
    InfluxError,
    ident,
    q,
    rfc3339,
    series,
    values,
)

RAW_RP = "salinmas_raw"
ROLLUP_RP = "salinmas_rollup"
COVERAGE = "rollup_coverage"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rollup:
    name: str  # the rollup's measurement, and its continuous query's suffix
    source: str  # the raw measurement
    key_tag: str  # the tag a late reading is re-rolled by (its series' owner)
    bucket: timedelta
    local_days: bool  # buckets start at local midnight (else on the UTC hour)
    every: timedelta
    window: timedelta  # the query's FOR
    fields: str
    where: str  # extra condition on the raw points ("" for none)
    backfill_chunk: timedelta  # how much raw history one backfill statement reads
    group_tags: tuple[str, ...] = ()  # the tags kept (none given: every tag)

    @property
    def cq_name(self) -> str:
        return f"cq_{self.name}"

    # ------------------------------------------------------------- buckets

    def floor(self, t: datetime, tz: ZoneInfo) -> datetime:
        """The start of the bucket ``t`` is in."""
        if self.local_days:
            return datetime.combine(t.astimezone(tz).date(), time(), tz).astimezone(UTC)
        n = (t - _EPOCH) // self.bucket
        return _EPOCH + n * self.bucket

    def ceil(self, t: datetime, tz: ZoneInfo) -> datetime:
        """The first bucket start at or after ``t``."""
        f = self.floor(t, tz)
        return f if f == t else self.next(f, tz)

    def next(self, bucket_start: datetime, tz: ZoneInfo) -> datetime:
        if self.local_days:
            day = bucket_start.astimezone(tz).date() + timedelta(days=1)
            return datetime.combine(day, time(), tz).astimezone(UTC)
        return bucket_start + self.bucket

    def late_before(self, now: datetime, tz: ZoneInfo) -> datetime:
        """A reading accepted now for a bucket that ended (before this) is re-rolled."""
        return self.floor(now, tz)

    def first_covered(self, now: datetime, tz: ZoneInfo) -> datetime:
        """From where a query created now is complete: its first run covers this on."""
        return self.ceil(now - self.window + self.every, tz)

    def final_before(self, now: datetime) -> datetime:
        """Buckets that ended before this are complete: a query run came after their end
        (every ``every``, the run itself within ``FINAL_MARGIN``), and what arrives for
        them later is re-rolled."""
        return now - self.every - FINAL_MARGIN

    # ------------------------------------------------------------- InfluxQL

    def group_by(self, tz: ZoneInfo) -> str:
        if not self.local_days:
            return f"time({_duration(self.bucket)})"
        return f"time({_duration(self.bucket)}, {day_offset(tz)})"

    def select_into(
        self,
        database: str,
        tz: ZoneInfo,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        key: str | None = None,
    ) -> str:
        """The rollup's SELECT INTO; bounded by time (bucket-aligned) and one series owner."""
        where = [self.where] if self.where else []
        if key is not None:
            where.append(f"{ident(self.key_tag)} = {q(key)}")
        if start is not None:
            where.append(f"time >= {q(rfc3339(start))}")
        if end is not None:
            where.append(f"time < {q(rfc3339(end))}")
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        tags = ", ".join(map(ident, self.group_tags)) if self.group_tags else "*"
        return (
            f"SELECT {self.fields} INTO {ident(database)}.{ident(ROLLUP_RP)}.{ident(self.name)} "
            f"FROM {ident(RAW_RP)}.{ident(self.source)}{cond} GROUP BY {self.group_by(tz)}, {tags}"
        )

    def create_cq(self, database: str, tz: ZoneInfo) -> str:
        return (
            f"CREATE CONTINUOUS QUERY {ident(self.cq_name)} ON {ident(database)} "
            f"RESAMPLE EVERY {_duration(self.every)} FOR {_duration(self.window)} "
            f"BEGIN {self.select_into(database, tz)} END"
        )


#: a query run's own time after its ``every`` boundary (InfluxDB checks every second)
FINAL_MARGIN = timedelta(minutes=5)
#: rejected weigh-ins carry no category tag (weighin_point): a tag test, cheaper than
#: reading each point's status field
NOT_REJECTED = "\"category\" != ''"

FILL_HOURLY = Rollup(
    name="fill_hourly",
    source="fill",
    key_tag="bin",
    bucket=timedelta(hours=1),
    local_days=False,
    every=timedelta(minutes=10),
    window=timedelta(hours=6),
    fields='mean("fill_pct") AS "fill_pct", max("fill_pct") AS "fill_pct_max"',
    where="",
    backfill_chunk=timedelta(hours=6),
)
WEIGHIN_DAILY = Rollup(
    name="weighin_daily",
    source="weighin",
    key_tag="device",
    bucket=timedelta(days=1),
    local_days=True,
    every=timedelta(hours=1),
    window=timedelta(days=3),
    fields='sum("net_g") AS "net_g", sum("amount_rp") AS "amount_rp", count("seq") AS "weighins"',
    where=NOT_REJECTED,
    backfill_chunk=timedelta(days=1),
)
WEIGHIN_DAILY_SITE = replace(
    WEIGHIN_DAILY, name="weighin_daily_site", key_tag="site", group_tags=("site", "category")
)
ROLLUPS = (FILL_HOURLY, WEIGHIN_DAILY, WEIGHIN_DAILY_SITE)
BY_NAME = {r.name: r for r in ROLLUPS}


def day_offset(tz: ZoneInfo) -> str:
    """GROUP BY offset that makes 1d buckets start at local midnight (no-DST zones)."""
    off = datetime.now(tz).utcoffset() or timedelta(0)
    minutes = int((-off.total_seconds() // 60) % (24 * 60))
    return f"{minutes}m"


def _duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


_GO_DURATION = re.compile(r"(\d+)([hms])")


def go_duration(text: str) -> timedelta | None:
    """A retention policy's duration as InfluxDB shows it (``2160h0m0s``); None for INF."""
    seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in _GO_DURATION.findall(text))
    return timedelta(seconds=seconds) if seconds else None


# ----------------------------------------------------------------- coverage marker


def coverage_line(rollup: Rollup, start: datetime) -> str:
    """The marker point: the rollup is complete from ``start`` on (one point, time 0)."""
    return f"{COVERAGE},rollup={rollup.name} from_ns={_ns(start)}i 0"


def coverage_query() -> str:
    return (
        f'SELECT last("from_ns") AS "from_ns" FROM {ident(ROLLUP_RP)}.{ident(COVERAGE)} '
        'GROUP BY "rollup"'
    )


def _ns(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


# ----------------------------------------------------------------- late readings

_KEY = {r.name: re.compile(rf"(?<!\\),{r.key_tag}=([^,\\ ]+)") for r in ROLLUPS}


def late_keys(lines: Iterable[str], *, now: datetime, tz: ZoneInfo) -> set[tuple[str, str, int]]:
    """``(rollup, key, bucket start ns)`` of the lines whose bucket has ended.

    Their key is the value of each rollup's ``key_tag`` (bin, device and site ids carry
    no escaped characters); a line without it (no site) has nothing to re-roll there.
    """
    cutoff: dict[str, list[tuple[Rollup, int]]] = defaultdict(list)
    for r in ROLLUPS:
        cutoff[r.source].append((r, _ns(r.late_before(now, tz))))
    out: set[tuple[str, str, int]] = set()
    for line in lines:
        rollups = cutoff.get(line[: line.find(",")])
        if rollups is None:
            continue
        tail = line[line.rfind(" ") + 1 :]
        if not tail.isdigit():  # not a line this writer makes: no rollup to guess at
            continue
        ts = int(tail)
        for r, limit in rollups:
            if ts >= limit:
                continue
            m = _KEY[r.name].search(line, 0, line.find(" "))
            if m is not None:
                out.add((r.name, m.group(1), _ns(r.floor(from_ns(ts), tz))))
    return out


# ----------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class Split:
    """A query's range cut into what the rollup answers and what the raw points do."""

    rollup: tuple[datetime, datetime] | None
    raw: tuple[tuple[datetime, datetime], ...]


def split(
    rollup: Rollup,
    start: datetime,
    end: datetime,
    *,
    covered_from: datetime | None,
    now: datetime,
    tz: ZoneInfo,
) -> Split:
    """Whole buckets inside ``[start, end)``, covered and final, from the rollup."""
    if covered_from is None:
        return Split(None, ((start, end),))
    lo = max(rollup.ceil(start, tz), rollup.ceil(covered_from, tz))
    hi = min(rollup.floor(end, tz), rollup.floor(rollup.final_before(now), tz))
    if lo >= hi:
        return Split(None, ((start, end),))
    raw = tuple((a, b) for a, b in ((start, lo), (hi, end)) if a < b)
    return Split((lo, hi), raw)


# ----------------------------------------------------------------- statements

#: a bucket late for more series than this is re-rolled whole, in one statement
WHOLE_BUCKET_AFTER = 50


def read_coverage(conn: InfluxConnection) -> dict[str, datetime]:
    """From when each rollup is complete (rollups without a marker are absent)."""
    found = series(conn.query(coverage_query()))
    out = {}
    for s in found:
        name = s.get("tags", {}).get("rollup")
        value = s["values"][0][1] if s.get("values") else None
        if name in BY_NAME and value is not None:
            out[name] = from_ns(value)
    return out


def reroll_statements(
    keys: Iterable[tuple[str, str, int]],
    *,
    database: str,
    tz: ZoneInfo,
    keep_since: datetime | None,
) -> list[str]:
    """The SELECT INTOs that bring late readings' buckets up to date.

    Consecutive buckets of one key go in one statement; a bucket late for many keys
    (an outage's backlog) is rolled once for all of them. Buckets starting before
    ``keep_since`` (raw points partly expired) are left as they are: rolling them again
    would replace a complete figure with a partial one.
    """
    per_bucket: dict[tuple[str, int], set[str]] = defaultdict(set)
    for name, key, bucket_ns in keys:
        if name in BY_NAME:
            per_bucket[(name, bucket_ns)].add(key)
    out: list[str] = []
    runs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (name, bucket_ns), owners in sorted(per_bucket.items()):
        r = BY_NAME[name]
        start = from_ns(bucket_ns)
        if keep_since is not None and start < keep_since:
            continue
        if len(owners) > WHOLE_BUCKET_AFTER:
            out.append(r.select_into(database, tz, start=start, end=r.next(start, tz)))
            continue
        for key in owners:
            runs[(name, key)].append(bucket_ns)
    for (name, key), buckets in sorted(runs.items()):
        r = BY_NAME[name]
        first = last = from_ns(buckets[0])
        for b in map(from_ns, buckets[1:]):
            if b == r.next(last, tz):
                last = b
                continue
            out.append(r.select_into(database, tz, start=first, end=r.next(last, tz), key=key))
            first = last = b
        out.append(r.select_into(database, tz, start=first, end=r.next(last, tz), key=key))
    return out


def raw_keep(conn: InfluxConnection) -> timedelta | None:
    """How long the raw policy keeps points (None: for ever, or no such policy)."""
    for row in values(conn.query("SHOW RETENTION POLICIES")):
        if row[0] == RAW_RP:
            return go_duration(str(row[1]))
    return None


def backfill(
    conn: InfluxConnection,
    *,
    tz: ZoneInfo,
    since: datetime,
    progress: Callable[[str, datetime], None] | None = None,
) -> dict[str, datetime]:
    """Roll up the raw history from ``since`` up to where each rollup is covered.

    Newest first, one ``backfill_chunk`` per statement; the coverage marker moves back
    after each chunk, so an interrupted backfill leaves a true marker. Starts no
    earlier than the raw policy keeps everything (a bucket whose raw points partly
    expired would be rolled up short), at a bucket's start. Needs the markers the
    ingest's writer sets at start-up. Returns each rollup's coverage afterwards.
    """
    covered = read_coverage(conn)
    missing = [r.name for r in ROLLUPS if r.name not in covered]
    if missing:
        raise InfluxError(f"no coverage marker for {missing}: start the ingest once first")
    keep = raw_keep(conn)
    floor = since if keep is None else max(since, datetime.now(UTC) - keep)
    for rollup in ROLLUPS:
        start = rollup.ceil(floor, tz)
        b = covered[rollup.name]
        while b > start:
            a = max(start, rollup.floor(b - rollup.backfill_chunk, tz))
            conn.query(rollup.select_into(conn.database, tz, start=a, end=b), write=True)
            write_coverage(conn, rollup, a)
            covered[rollup.name] = b = a
            if progress is not None:
                progress(rollup.name, a)
    return covered


def write_coverage(conn: InfluxConnection, rollup: Rollup, start: datetime) -> None:
    """Record that ``rollup`` is complete from ``start`` on."""
    r = conn.write(coverage_line(rollup, start).encode(), rp=ROLLUP_RP)
    if r.status_code != 204:
        raise InfluxError(f"/write answered {r.status_code}: {r.text[:200]}")
