"""The dashboard's pure front-end code, run in headless Chromium (no API needed).

Formatting (rupiah the Indonesian way, kilograms, Asia/Jakarta times, typed dates), the
translation dictionary, the collector's visiting order and the map component.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.audit import audit
from tests.browser.conftest import STATIC_DIR, ConsoleErrors, new_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, static_server: str, console_errors: ConsoleErrors) -> Iterator[Page]:
    p = new_page(browser, console_errors, static_server)
    # a blank same-origin document; the modules under test are imported on demand
    p.route(
        "**/__blank.html",
        lambda route: route.fulfill(
            body='<!doctype html><link rel="icon" href="data:,"><title>t</title>',
            content_type="text/html",
        ),
    )
    p.goto("/__blank.html")
    yield p
    p.context.close()
    assert console_errors.errors == []


def run(page: Page, module: str, body: str, arg: Any = None) -> Any:
    """Evaluate ``body`` (an async function body using ``m``, the imported module)."""
    return page.evaluate(
        f"async (arg) => {{ const m = await import('/js/{module}'); {body} }}",
        arg,
    )


def test_rupiah_is_formatted_the_indonesian_way(page: Page) -> None:
    got = run(page, "util.js", "return arg.map((n) => m.rupiah(n));", [4500, 0, 1234567, -1200])
    assert got == ["Rp 4.500", "Rp 0", "Rp 1.234.567", "−Rp 1.200"]


def test_rupiah_stays_indonesian_in_english(page: Page) -> None:
    got = run(
        page,
        "util.js",
        "localStorage.setItem('salinmas.lang', 'en'); const r = m.rupiah(4500);"
        " localStorage.removeItem('salinmas.lang'); return r;",
    )
    assert got == "Rp 4.500"


def test_kilograms_follow_the_language(page: Page) -> None:
    got = run(
        page,
        "util.js",
        "const id = m.kg(1250); localStorage.setItem('salinmas.lang', 'en');"
        " const en = m.kg(1250); localStorage.removeItem('salinmas.lang'); return [id, en];",
    )
    assert got == ["1,25 kg", "1.25 kg"]
    # nothing sold (minus zero grams) or a rounding crumb is 0, never "-0" (stock screen)
    assert run(page, "util.js", "return [m.kg(-0, 1), m.kg(-20, 1), m.kg(-60, 1)];") == [
        "0 kg",
        "0 kg",
        "-0,1 kg",
    ]


def test_times_are_shown_in_asia_jakarta(page: Page) -> None:
    # 07:05 UTC is 14.05 WIB; 18:00 UTC on the 29th is already the 30th in Jakarta
    got = run(
        page,
        "util.js",
        "return [m.clock('2026-11-29T07:05:00Z'), m.localDay('2026-11-29T18:00:00Z'),"
        " m.localDay('2026-11-29T16:59:59+00:00')];",
    )
    assert got == ["14.05", "2026-11-30", "2026-11-29"]


def test_typed_weights_become_integer_grams(page: Page) -> None:
    got = run(
        page,
        "util.js",
        "return arg.map((x) => m.parseKgToGrams(x));",
        ["2,5", "2.5", " 12 ", "0", "abc", "-1", "0,0004", "1.2345"],
    )
    assert got == [2500, 2500, 12000, None, None, None, None, 1235]


def test_collector_visits_overdue_first_then_by_due_time_and_priority(page: Page) -> None:
    pickups = [
        {"id": 1, "due_at": "2026-11-29T10:00:00Z", "priority": 0},
        {"id": 2, "due_at": "2026-11-29T08:00:00Z", "priority": 0},  # overdue
        {"id": 3, "due_at": None, "priority": 5},
        {"id": 4, "due_at": "2026-11-29T10:00:00Z", "priority": 3},
        {"id": 5, "due_at": "2026-11-29T07:00:00Z", "priority": 0},  # most overdue
    ]
    now = "Date.parse('2026-11-29T09:00:00Z')"
    got = run(page, "util.js", f"return m.visitOrder(arg, {now}).map((p) => p.id);", pickups)
    assert got == [5, 2, 4, 1, 3]


#: modules that add their screens' strings to the dictionary when they load
STRING_MODULES = (  # each adds its strings to the one table
    "operator/stock_strings.js",
    "admin/text.js",
    "doorstep_strings.js",
)


def load_strings(page: Page) -> None:
    for module in STRING_MODULES:
        run(page, module, "return null;")


def test_both_languages_have_the_same_keys_and_no_empty_string(page: Page) -> None:
    load_strings(page)
    got = run(page, "i18n.js", "return {id: m.STRINGS.id, en: m.STRINGS.en};")
    assert set(got["id"]) == set(got["en"])
    assert all(v.strip() for v in [*got["id"].values(), *got["en"].values()])


def test_every_key_the_pages_use_is_in_the_dictionary(page: Page) -> None:
    load_strings(page)
    keys = set(run(page, "i18n.js", "return Object.keys(m.STRINGS.id);"))
    used: set[str] = set()
    for html in STATIC_DIR.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html.read_text()))
    for js in (STATIC_DIR / "js").rglob("*.js"):
        if js.name == "i18n.js":  # its doc comment shows t("key")
            continue
        used |= set(re.findall(r'\bt\("([a-z_.]+)"', js.read_text()))
    assert used, "found no translation keys at all"
    assert used - keys == set()


def test_typed_dates_are_read_day_first_whatever_the_browser(page: Page) -> None:
    got = run(
        page,
        "datefield.js",
        "return [arg.map((x) => m.parseDay(x)), m.formatDay('2026-12-01')];",
        ["1/12/2026", "01-12-2026", "1.12.2026", "2026-12-01", "31/02/2026", "12/31/2026", "x"],
    )
    assert got == [
        ["2026-12-01", "2026-12-01", "2026-12-01", "2026-12-01", None, None, None],
        "01/12/2026",
    ]


def map_page(page: Page) -> None:
    """The blank page with the vendored Leaflet and a 400x300 box for a map."""
    page.add_style_tag(url="/vendor/leaflet/leaflet.css")
    page.add_style_tag(url="/vendor/markercluster/MarkerCluster.css")
    page.add_style_tag(url="/css/app.css")
    page.add_script_tag(url="/vendor/leaflet/leaflet.js")
    page.add_script_tag(url="/vendor/markercluster/leaflet.markercluster.js")
    page.evaluate(
        "() => { const d = document.createElement('div'); d.id = 'm';"
        " d.style.cssText = 'width:400px;height:300px'; document.body.append(d); }"
    )


def test_the_map_places_points_by_coordinates_without_tiles_and_never_overlaps_labels(
    page: Page,
) -> None:
    """mutant: labels left where they are (no declutter) -> the overlap assertion fails
    mutant: lat and lon swapped -> the north/east order assertion fails"""
    map_page(page)
    # four bins a few metres apart (their labels cannot all fit) and one far to the east
    bins = [
        {
            "id": f"b{i}",
            "kind": "bin",
            "lat": -7.4552 - 0.00003 * i,
            "lon": 109.2812,
            "label": f"Tong {i} 100 %",
            "className": "fill-3",
            "priority": 1 + i,
        }
        for i in range(4)
    ] + [
        {
            "id": "east",
            "kind": "bin",
            "lat": -7.4600,
            "lon": 109.2900,
            "label": "Timur 10 %",
            "className": "fill-0",
            "priority": 0,
        }
    ]
    got = run(
        page,
        "map.js",
        "const map = m.createMap(document.getElementById('m'), {config: {}, cluster: false});"
        " const n = map.update(arg); await new Promise((r) => setTimeout(r, 300));"
        " const box = (id) => document.querySelector(`[data-point='${id}'] .map-dot`)"
        ".getBoundingClientRect();"
        " const labels = [...document.querySelectorAll('.map-label')]"
        ".filter((l) => !l.hidden).map((l) => l.getBoundingClientRect());"
        " let overlaps = 0; for (let i = 0; i < labels.length; i++) for (let j = i + 1;"
        " j < labels.length; j++) { const a = labels[i], b = labels[j];"
        " if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)"
        " overlaps++; }"
        " return {n, plain: document.getElementById('m').classList.contains('map-plain'),"
        " east: box('east').left > box('b0').left, south: box('east').top > box('b0').top,"
        " shown: labels.length, overlaps,"
        " fill: document.querySelector(`[data-point='b0'] .map-point`).className};",
        bins,
    )
    assert got["n"] == 5
    assert got["plain"]  # no tile server configured: a plain background
    assert got["east"]
    assert got["south"]
    assert got["overlaps"] == 0
    assert 2 <= got["shown"] < 5  # the far one and at least one of the crowd keep a label
    assert "fill-3" in got["fill"]


def test_the_map_falls_back_to_plain_when_no_tile_answers(
    page: Page, console_errors: ConsoleErrors
) -> None:
    """mutant: tile errors ignored -> the map never turns plain, the test fails"""
    console_errors.allow("net::ERR_FAILED")  # the tiles this test refuses
    map_page(page)
    page.route("**/tiles/**", lambda route: route.abort())
    got = run(
        page,
        "map.js",
        "const el = document.getElementById('m');"
        " const map = m.createMap(el, {config: {tiles_url: '/tiles/{z}/{x}/{y}.png'}});"
        " map.update(arg); for (let i = 0; i < 50 && !el.classList.contains('map-plain'); i++)"
        " await new Promise((r) => setTimeout(r, 100));"
        " return [el.classList.contains('map-plain'), el.querySelector('.map-note').textContent];",
        [{"id": "b", "kind": "bin", "lat": -7.45, "lon": 109.28, "label": "Tong"}],
    )
    assert got[0] is True
    assert "koordinat" in got[1]


def test_the_accessibility_audit_finds_what_it_looks_for(page: Page) -> None:
    page.set_content(
        '<html lang="id"><title>t</title><body style="background:#fff">'
        '<input id="bare"><label for="ok">OK</label><input id="ok"><button></button>'
        '<p style="color:#bbb">pale text</p><p style="color:#333">fine text</p></body></html>'
    )
    problems = audit(page)
    assert any("input#bare" in p for p in problems)
    assert not any("input#ok" in p for p in problems)
    assert any("without a name: button" in p for p in problems)
    assert any("pale text" in p for p in problems)
    assert not any("fine text" in p for p in problems)


def test_local_days_start_at_jakarta_midnight(page: Page) -> None:
    got = run(page, "util.js", "return [m.dayStartUtc('2026-11-29'), m.dayStartUtc('2027-01-01')];")
    assert got == ["2026-11-28T17:00:00.000Z", "2026-12-31T17:00:00.000Z"]


def test_chart_time_ticks_fall_on_round_local_hours(page: Page) -> None:
    got = run(
        page,
        "charts.js",
        "return m.timeTicks(Date.parse('2026-11-28T12:13:00Z'), Date.parse('2026-11-29T12:13:00Z'))"
        ".map((t) => new Date(t).toISOString());",
    )
    # every 6 hours on the WIB clock: 00.00, 06.00, 12.00, 18.00
    assert got == [
        "2026-11-28T17:00:00.000Z",
        "2026-11-28T23:00:00.000Z",
        "2026-11-29T05:00:00.000Z",
        "2026-11-29T11:00:00.000Z",
    ]


def test_fill_levels_round_down_so_below_threshold_never_reads_as_at_it(page: Page) -> None:
    got = run(page, "util.js", "return [m.pct(79.6), m.pct(80), m.pct(0), m.pct(null)];")
    assert got == ["79 %", "80 %", "0 %", "–"]


def test_the_stock_chart_wraps_category_names_instead_of_overlapping_them(page: Page) -> None:
    """mutant: category labels drawn on one line (no labelLines) -> the overlap at phone width
    mutant: the bottom margin not grown for the extra lines -> a label leaves the chart"""
    page.add_style_tag(url="/css/app.css")
    names = {
        "glass": "Kaca",
        "metal": "Logam",
        "organic": "Organik",
        "paper": "Kertas",
        "plastic-mixed": "Plastik campur",
        "plastic-pet": "Plastik PET",
    }
    got = run(
        page,
        "operator/stock.js",
        "const st = await import('/js/operator/state.js');"
        " for (const [code, name] of Object.entries(arg)) st.state.categories.set(code,"
        " {code, name_id: name, name_en: name});"
        " const rows = Object.keys(arg).map((category) => ({category, came_in_g: 6000,"
        " sold_g: -4500, loss_total_g: 0, closing_g: 1500}));"
        " const out = {};"
        " for (const width of [330, 900]) {"
        "  const svg = m.balanceChart(rows, {width});"
        "  svg.style.width = `${width}px`; document.body.replaceChildren(svg);"
        "  const box = svg.getBoundingClientRect();"
        "  const labels = [...svg.querySelectorAll('text.category-label')]"
        ".map((l) => l.getBoundingClientRect());"
        "  let overlaps = 0; for (let i = 1; i < labels.length; i++)"
        " if (labels[i].left < labels[i - 1].right) overlaps++;"
        "  out[width] = {n: labels.length, overlaps,"
        " outside: labels.filter((l) => l.bottom > box.bottom || l.left < box.left"
        " || l.right > box.right).length,"
        " lines: Math.max(...[...svg.querySelectorAll('text.category-label')]"
        ".map((l) => l.querySelectorAll('tspan').length))}; }"
        " return out;",
        names,
    )
    assert got["330"] == {"n": 6, "overlaps": 0, "outside": 0, "lines": 2}  # "Plastik / campur"
    assert got["900"] == {"n": 6, "overlaps": 0, "outside": 0, "lines": 1}
