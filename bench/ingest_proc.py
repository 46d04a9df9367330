"""L3: the real ingest (:func:`cloud.ingest.run`), one or more workers, each a process.

The ledger is prepared first (:func:`prepare_ledger`: migrations, the fleet's devices,
bins for fill events, households + cards + a price for weigh-ins), then each worker is
spawned with its own ``client_id`` and telemetry buffer, on the shared subscription
``$share/ingest/...``. Workers are stopped with SIGTERM: ``run()`` finishes the batch in
hand and returns.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from bench.influx import InfluxCounter, ProbePoller
from bench.stream import CATEGORY, card_for, fleet_ids
from cloud import devices, households, pickups, pricing
from cloud.db import make_engine, migrate, session_factory
from cloud.ingest import IngestSettings, run
from cloud.models import WeighinRecord, utcnow
from cloud.telemetry import TelemetrySettings

#: rupiah per kg of the bench's category (1,250 g -> Rp 3,750)
PRICE_RP_PER_KG = 3000


def prepare_ledger(url: str, kind: str, n: int) -> None:
    """Migrate and register ``n`` devices of ``kind`` (with bins or households)."""
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            pricing.ensure_category(s, code=CATEGORY, name_id="Plastik PET", name_en="PET")
            if pricing.price_at(s, category=CATEGORY, at=utcnow()) is None:
                pricing.set_price(s, category=CATEGORY, rp_per_kg=PRICE_RP_PER_KG)
            for i, dev in enumerate(fleet_ids(kind, n)):
                if kind == "fill":
                    devices.register_device(s, device_id=dev, kind="bin", site="bench")
                    pickups.register_bin(
                        s, bin_id=dev, device_id=dev, site="bench", category=CATEGORY
                    )
                else:
                    devices.register_device(s, device_id=dev, kind="station", site="bench")
                    hh = households.register_household(s, member_no=f"M{i:06d}", name=f"HH {i}")
                    households.link_card(s, card_id=card_for(i), household_id=hh.id)
            s.commit()
    finally:
        engine.dispose()


def credited_count(url: str) -> int:
    engine = make_engine(url, write=False)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(WeighinRecord)) or 0)
    finally:
        engine.dispose()


def _worker_main(settings: IngestSettings) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s ingest %(message)s")
    run(settings)


def ingest_settings(
    *,
    port: int,
    password: str,
    ledger_url: str,
    influx_url: str,
    database: str,
    workdir: Path,
    index: int,
    **overrides: Any,
) -> IngestSettings:
    return IngestSettings(
        mqtt_port=port,
        mqtt_password=SecretStr(password),
        client_id=f"bench-ingest-{database}-{index}",
        # one share group per configuration: a stopped worker's persistent session stays
        # in its group and would keep receiving (queued) its share of the next one's load
        share_group=f"bench-{database}",
        ledger_url=ledger_url,
        migrate_on_start=False,
        telemetry=TelemetrySettings(
            backend="influx",
            influx_url=influx_url,
            influx_database=database,
            buffer_path=workdir / f"buffer-{database}-{index}.db",
        ),
        log_level="WARNING",
        **overrides,
    )


class IngestWorkers:
    """``workers`` ingest processes; stored counted in InfluxDB (L3, L3x2). ``overrides``
    are :class:`~cloud.ingest.IngestSettings` fields (e.g. ``batch_gap_s``)."""

    def __init__(
        self,
        name: str,
        workers: int,
        *,
        port: int,
        password: str,
        ledger_url: str,
        influx_url: str,
        database: str,
        workdir: Path,
        kind: str = "fill",
        **overrides: Any,
    ) -> None:
        self.name = name
        self.settings = [
            ingest_settings(
                port=port,
                password=password,
                ledger_url=ledger_url,
                influx_url=influx_url,
                database=database,
                workdir=workdir,
                index=i,
                **overrides,
            )
            for i in range(workers)
        ]
        ctx = mp.get_context("spawn")
        self.procs = [
            ctx.Process(target=_worker_main, args=(s,), name=f"ingest-{i}", daemon=False)
            for i, s in enumerate(self.settings)
        ]
        self.counter = InfluxCounter(influx_url, database, measurement=kind)
        self.poller = ProbePoller(influx_url, database, kind=kind)

    def start(self) -> None:
        for p in self.procs:
            p.start()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid]

    def begin_step(self, t_first: float, rate: float) -> None:
        self.poller.start(t_first, rate)

    def delivered(self, t_first: float, t_last: float) -> int:
        return self.counter.count(t_first, t_last)

    def latencies(self) -> list[float]:
        return self.poller.stop()

    def stop(self) -> None:
        self.poller.stop()
        for p in self.procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: run() finishes its batch and returns
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join(5)
