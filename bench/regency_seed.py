"""Seeding the regency's ledger on PostgreSQL, fast: COPY into the ORM models' own tables.

The schema is the migrations' (:func:`cloud.db.migrate`); the rows are shaped by the ORM
models (:func:`model_columns` takes every column name and default from
``Model.__table__``, so there is no second schema here) and the domain's own rules where
one exists (:func:`cloud.households.household_account_values`, :func:`cloud.pricing.set_price`,
:func:`cloud.postings.programme_account`, :func:`cloud.pricing.ensure_category`). What is
many rows goes through ``COPY ... FROM STDIN`` (psycopg 3): 550,000 households, their
accounts and cards, opening balances (one balanced journal entry each, so households have
savings to withdraw), 22,300 devices (stations, collectors' scales, bin sensors), 20,000
bins, 300 collectors; what is few goes through the domain functions. Afterwards the
ledger must balance (:func:`postings_total` is 0) and every table is analysed.

    report = seed("postgresql+psycopg://...", Regency(), now=datetime.now(UTC))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from cloud import pricing
from cloud.auth import hash_secret
from cloud.db import make_engine, migrate, session_factory
from cloud.households import household_account_values
from cloud.models import (
    Account,
    Bin,
    Device,
    Household,
    JournalEntry,
    MemberCard,
    Posting,
    Site,
)
from cloud.models.auth import User
from cloud.postings import PURCHASES_ACCOUNT, postings_total, programme_account
from simulators import regency as model
from simulators.households import CATEGORIES
from simulators.regency import EMPTY_DEPTH_MM, Regency
from simulators.regency_names import KECAMATAN

#: every simulated collector's password (a private, short-lived database)
COLLECTOR_PASSWORD = "kolektor-bench-pw"
SEEDED_BY = "regency-seed"
_NAMES = {
    "organic": ("Organik", "Organic"),
    "plastic-pet": ("Plastik PET", "PET plastic"),
    "plastic-mixed": ("Plastik campur", "Mixed plastic"),
    "paper": ("Kertas", "Paper"),
    "metal": ("Logam", "Metal"),
    "glass": ("Kaca", "Glass"),
}


@dataclass
class SeedReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    database_bytes: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def model_columns(
    model: type[Any], given: list[str]
) -> tuple[list[str], Callable[[], tuple[Any, ...]]]:
    """The columns to COPY for ``model`` when ``given`` are provided per row: ``given`` plus
    every column with a Python-side default, and a function making those defaults (called
    once per row: a callable default such as ``utcnow`` is evaluated like the ORM does)."""
    table: Table = model.__table__
    unknown = set(given) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
    extra, makers = [], []
    for col in table.c:
        if col.name in given or col.default is None:
            continue
        d: Any = col.default
        extra.append(col.name)
        makers.append((lambda a=d.arg: a(None)) if d.is_callable else (lambda a=d.arg: a))

    def defaults() -> tuple[Any, ...]:
        return tuple(m() for m in makers)

    return given + extra, defaults


def copy_model(
    conn: psycopg.Connection[Any],
    model: type[Any],
    given: list[str],
    rows: Iterable[tuple[Any, ...]],
) -> int:
    """COPY ``rows`` (values of ``given``, in that order) into ``model``'s table."""
    columns, defaults = model_columns(model, given)
    n = 0
    table = model.__table__.name
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row + defaults())
            n += 1
    return n


def _reset_sequences(conn: psycopg.Connection[Any], tables: Iterable[str]) -> None:
    for t in tables:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
            f"coalesce((SELECT max(id) FROM {t}), 0) + 1, false)"
        )


def _domain_part(session: Session, r: Regency, now: datetime) -> tuple[int, int]:
    """Categories, a year of prices, the programme accounts (through the domain)."""
    for cat in CATEGORIES:
        name_id, name_en = _NAMES.get(cat, (cat, cat))
        pricing.ensure_category(session, code=cat, name_id=name_id, name_en=name_en)
    for cat, rp, at in r.price_history(now):
        pricing.set_price(session, category=cat, rp_per_kg=rp, effective_from=at, by=SEEDED_BY)
    purchases = programme_account(session, PURCHASES_ACCOUNT).id
    accounts_max = int(session.scalar(select(func.max(Account.id))) or 0)
    session.commit()
    return purchases, accounts_max


def seed(url: str, r: Regency, *, now: datetime, opening_balances: bool = True) -> SeedReport:
    """Migrate and fill an empty ledger database with the regency (see the module docs)."""
    report = SeedReport()
    t_all = time.monotonic()

    def step(name: str, fn: Callable[[], int]) -> None:
        t = time.monotonic()
        report.rows[name] = fn()
        report.seconds[name] = time.monotonic() - t
        print(
            f"  seeded {name}: {report.rows[name]:,} rows in {report.seconds[name]:.1f}s",
            flush=True,
        )

    t = time.monotonic()
    migrate(url)
    report.seconds["migrate"] = time.monotonic() - t
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            t = time.monotonic()
            purchases, acc_base = _domain_part(session, r, now)
            report.seconds["categories, prices, programme accounts"] = time.monotonic() - t
        pg_url = url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(pg_url) as conn:
            site_id = {s.index: s.index + 1 for s in r.sites}
            step(
                "sites",
                lambda: copy_model(
                    conn,
                    Site,
                    ["id", "code", "name", "area", "lat", "lon"],
                    (
                        (
                            site_id[s.index],
                            s.code,
                            s.name,
                            KECAMATAN[s.kecamatan].name,
                            s.lat,
                            s.lon,
                        )
                        for s in r.sites
                    ),
                ),
            )
            names: list[str] = []

            def households() -> Iterator[tuple[Any, ...]]:
                for i, member_no, name, _card, address, site in r.households():
                    names.append(name)
                    yield (i + 1, member_no, name, site_id[site], True, address)

            step(
                "households",
                lambda: copy_model(
                    conn,
                    Household,
                    ["id", "member_no", "name", "site_id", "active", "address"],
                    households(),
                ),
            )
            acc_cols = ["id", *household_account_values(0, "").keys()]
            step(
                "accounts",
                lambda: copy_model(
                    conn,
                    Account,
                    acc_cols,
                    (
                        (acc_base + i + 1, *household_account_values(i + 1, names[i]).values())
                        for i in range(len(names))
                    ),
                ),
            )
            step(
                "member_cards",
                lambda: copy_model(
                    conn,
                    MemberCard,
                    ["card_id", "household_id", "active", "linked_by"],
                    ((r.card_id(i), i + 1, True, SEEDED_BY) for i in range(len(names))),
                ),
            )
            if opening_balances:
                _opening_balances(conn, r, step, purchases, acc_base, now)
            step(
                "devices",
                lambda: copy_model(
                    conn,
                    Device,
                    ["device_id", "kind", "site_id", "name", "lat", "lon", "revoked"],
                    _devices(r, site_id),
                ),
            )
            step(
                "bins",
                lambda: copy_model(
                    conn,
                    Bin,
                    [
                        "bin_id",
                        "site_id",
                        "device_id",
                        "category_code",
                        "name",
                        "lat",
                        "lon",
                        "empty_depth_mm",
                    ],
                    _bins(r, site_id),
                ),
            )
            pw_hash = hash_secret(COLLECTOR_PASSWORD)
            step(
                "users (collectors)",
                lambda: copy_model(
                    conn,
                    User,
                    [
                        "id",
                        "username",
                        "display_name",
                        "role",
                        "password_hash",
                        "site_id",
                        "active",
                    ],
                    (
                        (
                            c + 1,
                            r.collector_username(c),
                            f"Kolektor {c + 1}",
                            "collector",
                            pw_hash,
                            site_id[s],
                            True,
                        )
                        for c, s in enumerate(r.collector_site)
                    ),
                ),
            )
            _reset_sequences(conn, ["sites", "households", "accounts", "journal_entries", "users"])
            conn.commit()
            t = time.monotonic()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            report.seconds["vacuum analyze"] = time.monotonic() - t
            report.database_bytes = int(
                conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
            )
        with session_factory(engine)() as session:
            if postings_total(session) != 0:
                raise AssertionError("the seeded ledger does not balance")
    finally:
        engine.dispose()
    report.total_s = time.monotonic() - t_all
    return report


def _opening_balances(
    conn: psycopg.Connection[Any],
    r: Regency,
    step: Callable[[str, Callable[[], int]], None],
    purchases: int,
    acc_base: int,
    now: datetime,
) -> None:
    """One balanced ``adjustment`` entry per household with savings: the programme's
    purchases account debited, the household's account credited (its balance)."""
    amounts = [(i, r.opening_balance(i)) for i in range(r.config.households)]
    amounts = [(i, a) for i, a in amounts if a > 0]
    at = now.astimezone(UTC)
    step(
        "journal_entries (opening balances)",
        lambda: copy_model(
            conn,
            JournalEntry,
            ["id", "kind", "effective_at", "description", "created_by"],
            (
                (n + 1, "adjustment", at, "saldo awal / opening balance", SEEDED_BY)
                for n in range(len(amounts))
            ),
        ),
    )

    def postings() -> Iterator[tuple[int, int, int]]:
        for n, (i, amount) in enumerate(amounts):
            yield (n + 1, purchases, amount)
            yield (n + 1, acc_base + i + 1, -amount)

    cols = ["entry_id", "account_id", "amount_rp"]
    step("postings (opening balances)", lambda: copy_model(conn, Posting, cols, postings()))


def bin_position(s: model.Site, n: int) -> tuple[float, float]:
    """Where a site's ``n``-th bin stands: spread over its desa, eight to a row ~100 m
    apart, each nudged off the grid (streets are not a grid), deterministic."""
    nudge_lat, nudge_lon = ((n * 37) % 11 - 5) * 0.00008, ((n * 53) % 13 - 6) * 0.00008
    return (
        round(s.lat + 0.0009 * (n % 8) + nudge_lat, 6),
        round(s.lon + 0.0009 * (n // 8) + nudge_lon, 6),
    )


def _devices(r: Regency, site_id: dict[int, int]) -> Iterator[tuple[Any, ...]]:
    for s in r.sites:
        for n, j in enumerate(s.stations):
            yield (
                r.station_id(j),
                "station",
                site_id[s.index],
                f"Timbangan {s.name} #{n + 1}",
                s.lat + 0.001 * n,
                s.lon,
                False,
            )
    for c, site in enumerate(r.collector_site):
        s = r.sites[site]
        yield (
            r.collector_device(c),
            "station",
            site_id[s.index],
            f"Timbangan keliling {r.collector_username(c)}",
            s.lat,
            s.lon,
            False,
        )
    for s in r.sites:
        for n, k in enumerate(s.bins):
            yield (
                r.bin_id(k),
                "bin",
                site_id[s.index],
                f"Sensor tong {n + 1}, {s.name}",
                *bin_position(s, n),
                False,
            )


def _bins(r: Regency, site_id: dict[int, int]) -> Iterator[tuple[Any, ...]]:
    for s in r.sites:
        for n, k in enumerate(s.bins):
            bid = r.bin_id(k)
            lat, lon = bin_position(s, n)
            yield (
                bid,
                site_id[s.index],
                bid,
                r.bins[k].category,
                f"Tong {n + 1}, {s.name}",
                lat,
                lon,
                EMPTY_DEPTH_MM,
            )
