"""The operator screens' requests at regency size, through the real API on PostgreSQL.

    .venv/bin/python -m bench.screens [--households 550000] [--requests 200] [--url URL]

Seeds a PostgreSQL ledger with the regency's households, cards, sites, stations and
bins (:func:`bench.regency_seed.seed`, COPY; no opening balances: ~1.5 minutes for
550,000 households), starts ``salinmas api run`` (one worker, MQTT off), logs in an
administrator (every site) and an operator (the largest site), then sends the screens'
requests one after another, as a person at a screen does (one keep-alive connection):

* ``search``: ``GET /households?q=`` with what people type: a name or part of one (common
  and rare), a member number or its digits, a card id, a prefix of two letters;
* ``list``: ``GET /households`` pages (25 rows) at offsets up to the 1,000th row;
* ``overview``: ``GET /overview``, the overview's figures per site and kecamatan;
* the operational lists a page at a time (``offset``): ``bins site p1`` (the largest
  site's first 100), ``bins deep`` (the last page of 100 within reach), ``devices
  offline`` (12 of them), ``pickups open`` (25), ``weighins filtered`` (25 credited of
  the largest site, then 25 of a member number: the weigh-in history's filters). The
  seed writes no weigh-ins or pickups: those two measure the query on empty tables
  unless ``--today`` wrote them.

``--today`` first makes today so far on the seeded ledger: the regency model's weigh-ins
of today up to now (:meth:`Regency.weighins`: about a seventh of the households, at
their home stations, in opening hours; 78,235 for a whole day) credited through the
domain, every bin given a fill level and a pickup opened for the fullest (past 95 %):
the overview's sums then read a day's rows, not empty tables.

``--screenshots DIR`` then opens the operator page in the system's Chromium as the
administrator (the overview with its kecamatan table and the clustered map, a site's
bins zoomed onto, the household list and a name searched, a member number found) and
saves each screen as a PNG, with the time each took to show.

``--url`` measures on a database already seeded the same way (``bench.regency_seed.seed``
with the same ``--households``, ``opening_balances=False``, on a server you keep running),
without seeding it again.

Prints p50/p99/max per request kind and role and writes a JSON record to ``bench/out/``.
Target: household search p99 < 200 ms. Figures taken on a shared machine are noise in
their tails: the load average during the run is printed with them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from bench.api_balance import start_api
from bench.common import OUT_DIR, LoadSampler, exit_on_sigterm, machine, percentile
from bench.regency_seed import seed
from simulators.regency import Regency, RegencyConfig

PASSWORD = "screens-bench-password"


class Client:
    """One keep-alive connection with a bearer token; times each GET."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def get(self, path: str, query: dict[str, Any] | None = None) -> tuple[float, Any]:
        url = path + ("?" + urlencode(query, doseq=True) if query else "")
        t0 = time.perf_counter()
        self.conn.request("GET", url, headers={"Authorization": f"Bearer {self.token}"})
        r = self.conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise RuntimeError(f"GET {url}: {r.status} {body[:300]!r}")
        return ms, json.loads(body)


def login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": username, "password": PASSWORD})
    conn.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read())
    if r.status != 200:
        raise RuntimeError(f"login {username}: {r.status} {data}")
    return str(data["access_token"])


def staff(url: str, r: Regency) -> int:
    """An administrator and an operator of the largest site; returns that site's id."""
    from cloud.auth import create_user
    from cloud.db import make_engine, session_factory
    from cloud.models.auth import User

    big = max(r.sites, key=lambda s: len(s.households)).index + 1
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            if s.scalar(select(User.id).where(User.username == "bench-admin")) is None:
                create_user(s, username="bench-admin", password=PASSWORD, role="admin")
                create_user(
                    s, username="bench-operator", password=PASSWORD, role="operator", site_id=big
                )
                s.commit()
    finally:
        engine.dispose()
    return big


def search_terms(r: Regency, site_id: int, n: int, rng: random.Random) -> list[str]:
    """What people type: names and parts of them, member numbers (whole and digits), card
    ids and two-letter prefixes, of households of the operator's site and of anywhere."""
    site = r.sites[site_id - 1]
    picks: list[tuple[int, str]] = []
    wanted = set(rng.sample(range(r.config.households), n // 2))
    wanted |= set(rng.sample(site.households, min(n - len(wanted), len(site.households))))
    for i, member_no, name, card, _addr, _site in r.households():
        if i in wanted:
            kind = rng.randrange(6)
            first, *rest = name.split()
            picks.append(
                (
                    i,
                    [
                        name,
                        rest[-1] if rest else first,  # a surname (common)
                        name[1:6].lower(),  # part of a name
                        member_no,
                        member_no[-5:],  # the digits people read out
                        card,
                    ][kind],
                )
            )
    picks += [(-1, first[:2]) for first in ("wa", "Sr", "bu", "an")]
    rng.shuffle(picks)
    return [t for _, t in picks]


def run(port: int, r: Regency, site_id: int, requests: int) -> dict[str, dict[str, float]]:
    rng = random.Random(21)
    terms = search_terms(r, site_id, requests, rng)
    clients = {
        "admin": Client(port, login(port, "bench-admin")),
        "operator": Client(port, login(port, "bench-operator")),
    }
    V = "/api/v1"
    results: dict[str, dict[str, float]] = {}
    for role, c in clients.items():
        c.get(f"{V}/households", {"limit": 25})  # (warm up the worker)
        kinds: dict[str, list[float]] = {"search": [], "list": [], "overview": []}
        bins_total = c.get(f"{V}/bins", {"offset": 0, "limit": 1})[1]["total"]
        deep = max(0, (bins_total - 1) // 100 * 100)
        paged: dict[str, tuple[str, dict[str, Any]]] = {
            "bins site p1": ("bins", {"site_id": site_id, "offset": 0, "limit": 100}),
            "bins deep": ("bins", {"offset": deep, "limit": 100}),
            "devices offline": (
                "devices",
                {"online": "false", "revoked": "false", "offset": 0, "limit": 12},
            ),
            "pickups open": ("pickups", {"status": "open", "offset": 0, "limit": 25}),
            "weighins filtered": (
                "weighins",
                {"status": "credited", "site_id": site_id, "offset": 0, "limit": 25},
            ),
        }
        for kind in paged:
            kinds[kind] = []
        for k in range(requests):
            for kind, (path, query) in paged.items():
                if kind == "weighins filtered" and k % 2:
                    query = {
                        "member_no": r.member_no(k % r.config.households),
                        "offset": 0,
                        "limit": 25,
                    }
                kinds[kind].append(c.get(f"{V}/{path}", query)[0])
            kinds["search"].append(c.get(f"{V}/households", {"q": terms[k % len(terms)]})[0])
            offset = rng.randrange(0, 1000, 25)
            kinds["list"].append(c.get(f"{V}/households", {"limit": 25, "offset": offset})[0])
            kinds["overview"].append(c.get(f"{V}/overview")[0])
        for kind, lat in kinds.items():
            results[f"{kind} ({role})"] = {
                "n": len(lat),
                "p50_ms": percentile(lat, 50) or 0.0,
                "p99_ms": percentile(lat, 99) or 0.0,
                "max_ms": max(lat),
            }
    return results


def today_so_far(url: str, r: Regency, now: datetime) -> dict[str, float]:
    """Today on the seeded ledger, up to ``now``: the model's weigh-ins credited, the
    bins' fill levels, pickups for the fullest. Returns what it made and how long."""
    from sqlalchemy import text

    from cloud import crediting, pickups
    from cloud.db import make_engine, session_factory
    from simulators.regency import TZ
    from tests.cloud.factories import weighin

    rng = random.Random(7)
    made: dict[str, float] = {}
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            t0 = time.monotonic()
            levels = {
                r.bin_id(k): round(rng.betavariate(2, 3) * 100, 1) for k in range(r.config.bins)
            }
            s.execute(
                text("UPDATE bins SET fill_pct = :p WHERE bin_id = :b"),
                [{"b": b, "p": p} for b, p in levels.items()],
            )
            full = [b for b, p in levels.items() if p >= 95.0]
            for b in full:
                pickups.open_pickup(s, kind="bin_full", bin_id=b, fill_pct=levels[b])
            s.commit()
            made["bins_filled"], made["pickups_opened"] = len(levels), len(full)
            made["bins_s"] = time.monotonic() - t0
            t0 = time.monotonic()
            midnight = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
            plans = r.weighins(midnight, now)
            for first in range(0, len(plans), 1_000):
                batch = [
                    weighin(
                        device_id=r.station_id(w.station),
                        seq=first + n + 1,
                        card_id=r.card_id(w.household),
                        category=w.category,
                        net_g=w.net_g,
                        device_time=datetime.fromtimestamp(w.t, UTC),
                        # booted an hour before midnight: the clock rule's anchor agrees
                        mono_ms=round((w.t - midnight.timestamp() + 3600) * 1000),
                    )
                    for n, w in enumerate(plans[first : first + 1_000])
                ]
                # received a second after weighing, as a station on a good link sends it
                crediting.credit_batch(
                    s, batch, received_at=[w.device_time + timedelta(seconds=1) for w in batch]
                )
                s.commit()
            made["weighins"], made["weighins_s"] = len(plans), time.monotonic() - t0
    finally:
        engine.dispose()
    return made


def screenshots(
    port: int, r: Regency, site_id: int, out: Path, *, weighed_today: bool
) -> dict[str, float]:
    """The operator page at this size in Chromium, as the administrator: each screen
    saved as a PNG; returns the seconds each took to show."""
    from playwright.sync_api import expect, sync_playwright

    from simulators.regency import TZ
    from simulators.regency_names import KECAMATAN
    from tests.browser.conftest import CHROMIUM_ARGS, DESKTOP, chromium_path, staff_login

    wait = 60_000
    out.mkdir(parents=True, exist_ok=True)
    took: dict[str, float] = {}
    site = r.sites[site_id - 1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        ctx = browser.new_context(
            base_url=f"http://127.0.0.1:{port}",
            viewport={"width": DESKTOP["width"], "height": 1200},
            locale="id-ID",
            timezone_id="Asia/Jakarta",
        )
        page = ctx.new_page()

        def shot(name: str, t0: float, focus: str | None = None) -> None:
            took[name] = time.monotonic() - t0
            if focus is not None:  # the viewport on that part of the page
                page.locator(focus).evaluate("e => e.scrollIntoView({block: 'center'})")
            page.screenshot(path=str(out / f"{name}.png"))
            print(f"  {name}: shown in {took[name]:.2f}s -> {out / name}.png", flush=True)

        t0 = time.monotonic()
        staff_login(page, "bench-admin", PASSWORD, timeout_ms=wait)
        expect(page.locator("#sites tr.area-row").first).to_be_visible(timeout=wait)
        expect(page.locator("#bin-map .map-cluster").first).to_be_visible(timeout=wait)
        shot("regency-full-overview", t0)

        t0 = time.monotonic()
        page.get_by_role("button", name=f"Semua {len(KECAMATAN)} kecamatan").click()
        area = KECAMATAN[site.kecamatan].name
        page.locator(f'#sites tr.area-row[data-area="{area}"]').get_by_role("button").click()
        picked = page.locator(f'#sites tr.site-row[data-site="{site_id}"]')
        picked.get_by_role("button", name="Lihat tong").click()
        expect(page.locator("#bins-pager .pager")).to_be_visible(timeout=wait)
        expect(page.locator("#map-area")).not_to_have_text("", timeout=wait)
        shot("regency-full-map-site", t0, focus="#bin-map")

        t0 = time.monotonic()
        page.get_by_role("link", name="Nasabah").click()
        expect(page.locator("#hh-pager .pager")).to_be_visible(timeout=wait)
        shot("regency-full-households", t0)

        surname = next(r.households())[2].split()[-1]
        t0 = time.monotonic()
        page.get_by_label("Nomor anggota atau nama").fill(surname)
        with page.expect_response(lambda x: "/api/v1/households?" in x.url, timeout=wait):
            page.get_by_role("button", name="Cari").click()
        expect(page.locator("#hh-results button.hh-pick").first).to_be_visible(timeout=wait)
        shot("regency-full-search-name", t0)

        # a household of the site that weighed in today, if today was made
        midnight = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        today = r.weighins(midnight, datetime.now(TZ)) if weighed_today else []
        member = r.member_no(
            next(
                (w.household for w in today if w.household in site.households),
                site.households[len(site.households) // 2],
            )
        )
        t0 = time.monotonic()
        page.get_by_label("Nomor anggota atau nama").fill(member)
        with page.expect_response(lambda x: "/api/v1/households?" in x.url, timeout=wait):
            page.get_by_role("button", name="Cari").click()
        expect(page.locator("#hh-pager .pager")).to_contain_text("1–1 dari 1", timeout=wait)
        page.locator("#hh-results button.hh-pick").first.click()
        expect(page.locator("#hh-detail")).to_contain_text(member, timeout=wait)
        shot("regency-full-search-member", t0)
        browser.close()
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/screens.py", description=__doc__.split("\n")[0])
    ap.add_argument("--households", type=int, default=550_000)
    ap.add_argument("--requests", type=int, default=200, help="per request kind and role")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument(
        "--url",
        help="a database already seeded by bench.regency_seed.seed (same --households): "
        "measure without seeding",
    )
    ap.add_argument(
        "--today", action="store_true", help="credit the model's weigh-ins of today first"
    )
    ap.add_argument("--screenshots", type=Path, help="save the operator screens here (PNG)")
    args = ap.parse_args(argv)
    exit_on_sigterm()
    from tests.support.services import PostgresServer, free_port

    r = Regency(RegencyConfig(households=args.households))
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="sal-bench-screens-"))
    pg = None if args.url else PostgresServer().start()
    api = None
    try:
        if pg is not None:
            url = pg.create_database("screens")
            print(f"seeding {args.households:,} households ...", flush=True)
            rep = seed(url, r, now=started, opening_balances=False)
            print(f"seeded {rep.total_rows:,} rows in {rep.total_s:.0f}s", flush=True)
        else:
            url = args.url
        site_id = staff(url, r)
        day: dict[str, float] = {}
        if args.today:
            print("today so far: the model's weigh-ins, fill levels, pickups ...", flush=True)
            day = today_so_far(url, r, started)
            print(f"  {day}", flush=True)
        port = free_port()
        api = start_api(url, workdir, port)
        with LoadSampler() as load:
            results = run(port, r, site_id, args.requests)
            shown = (
                {}
                if args.screenshots is None
                else screenshots(port, r, site_id, args.screenshots, weighed_today=args.today)
            )
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        if pg is not None:
            pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    lines = [
        f"households {args.households:,}, sites {len(r.sites)}, bins {r.config.bins:,}, "
        f"one API worker, PostgreSQL; requests one after another"
        + (f"; today so far: {day['weighins']:,.0f} weigh-ins credited" if day else ""),
        "| request (role) | n | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {k} | {v['n']:.0f} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['max_ms']:.1f} |"
            for k, v in results.items()
        ),
        load.summary(),
    ]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"screens-{stamp}.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "households": args.households,
                "today": day,
                "results": results,
                "screens_shown_s": shown,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
