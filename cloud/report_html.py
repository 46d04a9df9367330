"""The monthly programme report as one print-ready HTML page (A4, no scripts, no fonts).

:func:`render` takes a :class:`~cloud.programme_report.ProgrammeReport` and a language
(``id``, the default, or ``en``) and returns a self-contained document: inline CSS with
print rules, an inline SVG chart of kilos credited per day and category, and the
tables. Print it from a browser, or ``chromium --headless --print-to-pdf`` for a PDF.
Every value is escaped; numbers are written the Indonesian way in ``id``
(``Rp 4.500``, ``1.234,5 kg``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from cloud.programme_report import ProgrammeReport

PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b8860b", "#56b4e9", "#6a3d9a", "#555555")
MONTHS = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
#: (key, Indonesian, English)
_TEXTS = (
    ("title", "Laporan Bulanan Program Bank Sampah", "Monthly Waste Bank Programme Report"),
    ("programme", "Seluruh program", "Whole programme"),
    ("site", "Lokasi", "Site"),
    ("generated", "Dibuat", "Generated"),
    ("hh_active", "Nasabah aktif", "Active households"),
    ("of_registered", "dari {n} terdaftar", "of {n} registered"),
    ("kg_credited", "Sampah ditabung", "Waste credited"),
    ("rp_credited", "Dikreditkan ke nasabah", "Credited to households"),
    ("rp_paid", "Dibayar tunai", "Paid out in cash"),
    ("payouts", "{n} penarikan", "{n} payouts"),
    ("kg_sold", "Sampah terjual", "Waste sold"),
    ("revenue", "Hasil penjualan", "Sales revenue"),
    ("margin", "Selisih (margin)", "Margin"),
    ("open_cases", "Kasus terbuka", "Open cases"),
    (
        "chart",
        "Sampah ditabung per hari dan kategori (kg)",
        "Waste credited per day and category (kg)",
    ),
    ("by_cat", "Per kategori", "By category"),
    ("category", "Kategori", "Category"),
    ("credited", "Ditabung (kg)", "Credited (kg)"),
    ("credited_rp", "Dikreditkan (Rp)", "Credited (Rp)"),
    ("sold", "Terjual (kg)", "Sold (kg)"),
    ("revenue_rp", "Penjualan (Rp)", "Revenue (Rp)"),
    ("margin_rp", "Margin (Rp)", "Margin (Rp)"),
    ("stock_end", "Stok akhir (kg)", "Stock at end (kg)"),
    ("total", "Jumlah", "Total"),
    ("mb", "Neraca massa per lokasi dan kategori (kg)", "Mass balance per site and category (kg)"),
    ("opening", "Awal", "Opening"),
    ("in_station", "Masuk stasiun", "In, stations"),
    ("in_door", "Masuk jemput", "In, doorstep"),
    ("door", "Ditimbang di rumah", "Weighed at doors"),
    ("lost", "Susut", "Lost"),
    ("allowed", "Batas susut", "Allowed loss"),
    ("closing", "Akhir", "Closing"),
    ("flags", "Catatan", "Notes"),
    ("ok", "sesuai", "in balance"),
    ("cases", "Kasus kecurangan yang belum diputuskan", "Fraud cases not yet decided"),
    ("rule", "Aturan", "Rule"),
    ("subject", "Subjek", "Subject"),
    ("days", "Hari", "Days"),
    ("what", "Temuan", "Finding"),
    ("none", "Tidak ada.", "None."),
    (
        "cases_month",
        "Bulan ini: {raised} kasus baru, {confirmed} dikonfirmasi; "
        "{holds} penahanan pembayaran aktif.",
        "This month: {raised} new cases, {confirmed} confirmed; {holds} payout holds active.",
    ),
    (
        "notes",
        "Catatan: kg dari timbangan stasiun dan petugas jemput (JEKNYONG), dikurangi koreksi; "
        "stok dihitung dari pergerakan (masuk, jual, susut, hitung fisik), tidak diketik. "
        "Batas susut per kategori berlaku atas stok yang disimpan (mis. organik kehilangan air).",
        "Notes: kg from station scales and doorstep collectors (JEKNYONG), net of corrections; "
        "stock is derived from movements (in, sold, lost, physical counts), never typed. The "
        "allowed loss per category applies to the stock held (e.g. organic waste loses water).",
    ),
    ("sign_made", "Dibuat oleh,", "Prepared by,"),
    ("sign_known", "Mengetahui,", "Acknowledged,"),
    ("sign_role_1", "Pengelola Bank Sampah", "Waste bank manager"),
    (
        "sign_role_2",
        "Dinas Lingkungan Hidup Kab. Banyumas",
        "Environment Agency (DLH), Banyumas Regency",
    ),
    ("flag.loss_over_allowance", "susut melebihi batas", "loss over allowance"),
    ("flag.doorstep_gap", "selisih jemput", "doorstep gap"),
    ("flag.credit_not_in_stock", "kredit tidak masuk stok", "credit not in stock"),
    ("flag.negative_stock", "stok negatif", "negative stock"),
)
L = {"id": {k: i for k, i, _ in _TEXTS}, "en": {k: en for k, _, en in _TEXTS}}

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; color: #1b2420; font-size: 10pt;
       margin: 0 auto; max-width: 190mm; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 2pt; color: #0b6e4f; } h2 { font-size: 11.5pt; margin: 14pt 0 5pt;
     border-bottom: 1.5pt solid #0b6e4f; padding-bottom: 2pt; }
.sub { color: #52605a; margin: 0 0 10pt; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 5pt; }
.kpi { border: 1pt solid #d5ddd9; border-radius: 4pt; padding: 5pt 7pt; }
.kpi .l { font-size: 8pt; color: #52605a; } .kpi .v { font-size: 13pt; font-weight: 700; }
.kpi .s { font-size: 8pt; color: #52605a; }
table { width: 100%; border-collapse: collapse; font-size: 8.5pt; }
th, td { border-bottom: .6pt solid #d5ddd9; padding: 2.5pt 4pt; text-align: left;
         vertical-align: top; }
th { background: #e3f2ec; font-weight: 700; } td.n, th.n { text-align: right; }
td.n { white-space: nowrap; } .mb th, .mb td { padding: 2pt 2.5pt; font-size: 8pt; }
tr.total td { font-weight: 700; border-top: 1pt solid #1b2420; }
.flag { color: #b3261e; font-weight: 700; } .ok { color: #1d7a3e; }
.legend span { display: inline-block; margin-right: 10pt; font-size: 8pt; }
.legend i { display: inline-block; width: 8pt; height: 8pt; margin-right: 3pt;
            vertical-align: -1pt; }
.notes { font-size: 8pt; color: #52605a; margin-top: 8pt; }
.sign { display: grid; grid-template-columns: 1fr 1fr; gap: 20pt; margin-top: 18pt;
        text-align: center; }
.sign .line { margin-top: 40pt; border-top: .8pt solid #1b2420; padding-top: 2pt; }
section { break-inside: avoid; } table { break-inside: auto; } tr { break-inside: avoid; }
"""


def _num(x: float, lang: str, digits: int = 0) -> str:
    text = f"{x:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if lang == "id" else text


def _kg(g: int, lang: str) -> str:
    return _num(g / 1000, lang, 1)


def _rp(rp: int, lang: str) -> str:
    return ("−" if rp < 0 else "") + "Rp " + _num(abs(rp), lang)


def _cells(values: Sequence[str], numeric: bool = True, tag: str = "td") -> str:
    cls = ' class="n"' if numeric else ""
    return "".join(f"<{tag}{cls}>{v}</{tag}>" for v in values)


def _days(rep: ProgrammeReport) -> list[date]:
    days, d = [], rep.month
    while d.month == rep.month.month:
        days.append(d)
        d += timedelta(days=1)
    return days


def _chart(rep: ProgrammeReport, cats: Sequence[str], lang: str) -> str:
    """Stacked bars of kg credited per day (inline SVG)."""
    days = _days(rep)
    top = max([sum(rep.daily.get(day, {}).values()) / 1000 for day in days] + [1.0])
    steps = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**4, 10**5, 10**6)
    step = next(s for s in steps if top / s <= 5)
    top = step * (int(top / step) + 1)
    w, h, left, bottom = 700, 190, 44, 18
    bw = (w - left) / len(days)

    def y_of(kg: float) -> float:
        return h - bottom - kg / top * (h - bottom - 6)

    label = escape(L[lang]["chart"])
    out = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{label}">']
    for k in range(int(top / step) + 1):
        y = y_of(k * step)
        out.append(f'<line x1="{left}" x2="{w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d5ddd9"/>')
        out.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="8" text-anchor="end">'
            f"{_num(k * step, lang)}</text>"
        )
    for i, day in enumerate(days):
        acc = 0.0
        for ci, cat in enumerate(cats):
            kg = rep.daily.get(day, {}).get(cat, 0) / 1000
            if kg <= 0:
                continue
            y0, y1 = y_of(acc), y_of(acc + kg)
            acc += kg
            tip = f"{day} {escape(cat)}: {_num(kg, lang, 1)} kg"
            out.append(
                f'<rect x="{left + i * bw + 1:.1f}" y="{y1:.1f}" width="{bw - 2:.1f}" '
                f'height="{y0 - y1:.1f}" fill="{PALETTE[ci % len(PALETTE)]}">'
                f"<title>{tip}</title></rect>"
            )
        if i % 2 == 0:
            out.append(
                f'<text x="{left + (i + 0.5) * bw:.1f}" y="{h - 5}" font-size="7.5" '
                f'text-anchor="middle">{day.day}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _kpis(rep: ProgrammeReport, t: dict[str, str], lang: str) -> str:
    registered = t["of_registered"].format(n=_num(rep.households_registered, lang))
    kpis = (
        (t["hh_active"], _num(rep.households_active, lang), registered),
        (t["kg_credited"], f"{_kg(rep.credited_g, lang)} kg", ""),
        (t["rp_credited"], _rp(rep.purchases_rp, lang), ""),
        (t["rp_paid"], _rp(rep.paid_out_rp, lang), t["payouts"].format(n=_num(rep.payouts, lang))),
        (t["kg_sold"], f"{_kg(rep.sold_g, lang)} kg", ""),
        (t["revenue"], _rp(rep.revenue_rp, lang), ""),
        (t["margin"], _rp(rep.margin_rp, lang), ""),
        (t["open_cases"], _num(len(rep.open_cases), lang), ""),
    )
    return (
        '<section class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="l">{escape(lbl)}</div><div class="v">{v}</div>'
            f'<div class="s">{escape(sub)}</div></div>'
            for lbl, v, sub in kpis
        )
        + "</section>"
    )


def _categories(rep: ProgrammeReport, t: dict[str, str], name: dict[str, str], lang: str) -> str:
    heads = ("credited", "credited_rp", "sold", "revenue_rp", "margin_rp", "stock_end")
    p = [
        f"<section><h2>{escape(t['by_cat'])}</h2><table><thead><tr><th>{t['category']}</th>",
        _cells([t[k] for k in heads], tag="th"),
        "</tr></thead><tbody>",
    ]
    for c in rep.categories:
        p.append(
            f"<tr><td>{escape(name[c.category])}</td>"
            + _cells(
                [
                    _kg(c.credited_g, lang),
                    _rp(c.purchases_rp, lang),
                    _kg(c.sold_g, lang),
                    _rp(c.revenue_rp, lang),
                    _rp(c.margin_rp, lang),
                    _kg(c.closing_g, lang),
                ]
            )
            + "</tr>"
        )
    closing = sum(c.closing_g for c in rep.categories)
    p.append(
        f'<tr class="total"><td>{t["total"]}</td>'
        + _cells(
            [
                _kg(rep.credited_g, lang),
                _rp(rep.purchases_rp, lang),
                _kg(rep.sold_g, lang),
                _rp(rep.revenue_rp, lang),
                _rp(rep.margin_rp, lang),
                _kg(closing, lang),
            ]
        )
        + "</tr>"
    )
    return "".join(p) + "</tbody></table></section>"


def _balances(rep: ProgrammeReport, t: dict[str, str], name: dict[str, str], lang: str) -> str:
    heads = ("opening", "in_station", "in_door", "door", "sold", "lost", "allowed", "closing")
    p = [
        f"<section><h2>{escape(t['mb'])}</h2><table class='mb'><thead><tr><th>{t['site']}</th>"
        f"<th>{t['category']}</th>",
        _cells([t[k] for k in heads], tag="th"),
        f"<th>{t['flags']}</th></tr></thead><tbody>",
    ]
    for b in rep.balances:
        flags = ", ".join(t[f"flag.{f}"] for f in b.flags)
        note = (
            f'<span class="flag">{escape(flags)}</span>'
            if flags
            else f'<span class="ok">{t["ok"]}</span>'
        )
        grams = (
            b.opening_g,
            b.weighin_g + b.reversal_g,
            b.doorstep_g,
            b.door_g,
            -b.sold_g,
            b.loss_total_g,
            b.allowed_loss_g,
            b.closing_g,
        )
        p.append(
            f"<tr><td>{escape(b.site_code)}</td>"
            f"<td>{escape(name.get(b.category, b.category))}</td>"
            + _cells([_kg(g, lang) for g in grams])
            + f"<td>{note}</td></tr>"
        )
    return "".join(p) + "</tbody></table></section>"


def _cases(rep: ProgrammeReport, t: dict[str, str]) -> str:
    month = t["cases_month"].format(
        raised=rep.cases_raised, confirmed=rep.cases_confirmed, holds=rep.holds_active
    )
    p = [f"<section><h2>{escape(t['cases'])}</h2><p>{escape(month)}</p>"]
    if not rep.open_cases:
        return "".join(p) + f"<p>{t['none']}</p></section>"
    heads = ("#", t["rule"], t["subject"], t["days"], t["what"])
    p.append("<table><thead><tr>" + _cells(heads, numeric=False, tag="th") + "</tr></thead><tbody>")
    for c in rep.open_cases:
        days = f"{c.first_day:%d/%m}"
        if c.last_day != c.first_day:
            days += f"–{c.last_day:%d/%m}"
        cells = (
            str(c.id),
            escape(c.rule_code),
            f"{escape(c.subject_kind)} {escape(c.subject_key)}",
            days,
            escape(c.summary),
        )
        p.append("<tr>" + _cells(cells, numeric=False) + "</tr>")
    return "".join(p) + "</tbody></table></section>"


def render(rep: ProgrammeReport, lang: str = "id") -> str:
    """The report as a complete HTML document."""
    lang = "en" if lang == "en" else "id"
    t = L[lang]
    month = f"{MONTHS[lang][rep.month.month - 1]} {rep.month.year}"
    where = f"{t['site']} {escape(rep.site_code)}" if rep.site_code else t["programme"]
    cats = [c.category for c in rep.categories]
    name = {c.category: (c.name_id if lang == "id" else c.name_en) for c in rep.categories}
    legend = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(name[c])}</span>'
        for i, c in enumerate(cats)
    )
    title = f"{escape(t['title'])} — {escape(month)}"
    return "".join(
        (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
            f"<title>{title}</title>",
            f"<style>{CSS}</style></head><body><h1>{escape(t['title'])}</h1>",
            f'<p class="sub">{escape(month)} · {where} · {t["generated"]} ',
            f"{rep.generated_at:%Y-%m-%d %H:%M} UTC</p>",
            _kpis(rep, t, lang),
            f"<section><h2>{escape(t['chart'])}</h2>{_chart(rep, cats, lang)}",
            f'<div class="legend">{legend}</div></section>',
            _categories(rep, t, name, lang),
            _balances(rep, t, name, lang),
            _cases(rep, t),
            f'<p class="notes">{escape(t["notes"])}</p><div class="sign">',
            f'<div>{t["sign_made"]}<div class="line">{t["sign_role_1"]}</div></div>',
            f'<div>{t["sign_known"]}<div class="line">{t["sign_role_2"]}</div></div>',
            "</div></body></html>",
        )
    )
