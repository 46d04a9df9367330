// Inline SVG charts: a time-series line and stacked day bars. No chart library; each
// function returns an <svg> whose viewBox is the size it is drawn at (pass the box's
// width), so its text is as large on a phone as on a laptop.
import { s, clock, num, rupiah, toDate, TIME_ZONE, zoneOffsetMs } from "./util.js";
import { lang, t } from "./i18n.js";

/** A category's colour when its record is not known (the API gives every one its own). */
export const UNKNOWN_COLOUR = "#8b9692";

/** The width to draw a chart at in `box` (its content width; never below a phone's). */
export function chartWidth(box) {
  return Math.max(280, Math.floor(box.clientWidth || 640));
}

/** A top for `ticks` equal steps of 1, 2 or 5 x 10^n that covers `v`. */
function niceMax(v, ticks = 4) {
  if (!(v > 0)) return ticks;
  const raw = v / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p * ticks;
  return 10 * p * ticks;
}

/** Left margin wide enough for the longest y label (12 px text). */
function leftMargin(labels) {
  return Math.max(40, 14 + 7.2 * Math.max(...labels.map((l) => l.length)));
}

const MIN = 60e3;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * MIN);

/** Round local times (whole minutes, hours, days in the programme's zone) between t0 and t1. */
export function timeTicks(t0, t1, most = 6) {
  const step = TICK_STEPS.find((st) => (t1 - t0) / st <= most) || TICK_STEPS[TICK_STEPS.length - 1];
  const offset = zoneOffsetMs(new Date(t0));
  const first = Math.ceil((t0 + offset) / step) * step - offset;
  const out = [];
  for (let tm = first; tm <= t1; tm += step) out.push(tm);
  return out;
}

function tickLabel(ms, spanMs) {
  const d = new Date(ms);
  const loc = lang() === "en" ? "en-GB" : "id-ID";
  if (spanMs <= 36 * 3600e3) return clock(d);
  return new Intl.DateTimeFormat(loc, { timeZone: TIME_ZONE, day: "numeric", month: "short" }).format(d);
}

/**
 * A line over time. `points`: [{t: Date|string, v: number}] (sorted or not). Options:
 * yMax (fixed top, e.g. 100 for %), threshold (dashed line; its label belongs in the
 * legend beside the chart, never on the data), unit (suffix), start/end (the period
 * asked for: the time axis starts where the data does when that is later, so a short
 * burst of data is not a stack of dots at one edge).
 */
export function lineChart(points, { width = 640, height = 240, yMax, threshold, unit = "", label = "", start, end } = {}) {
  const pts = points.map((p) => ({ t: toDate(p.t).getTime(), v: Number(p.v) })).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  if (!pts.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", text: t("charts.nodata") }));
    return svg;
  }
  const top = yMax ?? niceMax(Math.max(...pts.map((p) => p.v)));
  const m = { l: leftMargin([0, 1, 2, 3, 4].map((i) => num((top * i) / 4) + unit)), r: 16, t: 12, b: 28 };
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const [first, last] = [pts[0].t, pts[pts.length - 1].t];
  let t1 = Math.max(end ? toDate(end).getTime() : last, last);
  let t0 = Math.max(start ? toDate(start).getTime() : first, first - 0.03 * (t1 - first));
  if (t1 - t0 < 60e3) [t0, t1] = [t0 - 30e3, t1 + 30e3];
  const X = (tm) => m.l + ((tm - t0) / (t1 - t0)) * W;
  const Y = (v) => m.t + H - (Math.max(0, Math.min(top, v)) / top) * H;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { class: "gridline", x1: m.l, x2: m.l + W, y1: Y(v), y2: Y(v) }));
    svg.append(s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end", text: num(v) + unit }));
  }
  const ticks = timeTicks(t0, t1, Math.max(2, Math.floor(W / 80)));
  for (const tm of ticks) {
    // the first and last labels stay inside the chart
    const x = Math.min(width - 4 - 18, Math.max(m.l + 18, X(tm)));
    svg.append(s("text", { x, y: height - 8, "text-anchor": "middle", text: tickLabel(tm, t1 - t0) }));
  }
  if (threshold != null) {
    svg.append(s("line", { class: "threshold", x1: m.l, x2: m.l + W, y1: Y(threshold), y2: Y(threshold) }));
  }
  const d = pts.map((p, i) => `${i ? "L" : "M"}${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join(" ");
  svg.append(s("path", { class: "series", d }));
  if (pts.length <= 60) for (const p of pts) svg.append(s("circle", { cx: X(p.t), cy: Y(p.v), r: 2.5, fill: "var(--brand)" }));
  return svg;
}

/**
 * Stacked bars per day. `rows`: [{day: "YYYY-MM-DD", category, value}]; `format` labels
 * the y axis; `colour(category)` gives each category its colour (from its record).
 * Returns {svg, categories}.
 */
export function stackedDayBars(rows, { width = 640, height = 240, format = (v) => num(v), label = "", categories, days: allDays, colour = () => UNKNOWN_COLOUR } = {}) {
  const days = allDays || [...new Set(rows.map((r) => r.day))].sort();
  const cats = categories || [...new Set(rows.map((r) => r.category))].sort();
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  if (!rows.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", text: t("charts.nodata") }));
    return { svg, categories: cats };
  }
  const totals = days.map((d) => rows.filter((r) => r.day === d).reduce((a, r) => a + Number(r.value || 0), 0));
  const top = niceMax(Math.max(...totals));
  const m = { l: leftMargin([0, 1, 2, 3, 4].map((i) => format((top * i) / 4))), r: 8, t: 10, b: 28 };
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const Y = (v) => m.t + H - (v / top) * H;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { class: "gridline", x1: m.l, x2: m.l + W, y1: Y(v), y2: Y(v) }));
    svg.append(s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end", text: format(v) }));
  }
  const slot = W / days.length;
  const bw = Math.max(4, Math.min(48, slot * 0.7));
  const loc = lang() === "en" ? "en-GB" : "id-ID";
  const every = Math.ceil(days.length / Math.max(1, Math.floor(W / 56)));
  days.forEach((day, i) => {
    const x = m.l + slot * i + (slot - bw) / 2;
    let acc = 0;
    cats.forEach((c) => {
      const v = rows.filter((r) => r.day === day && r.category === c).reduce((a, r) => a + Number(r.value || 0), 0);
      if (!v) return;
      const rect = s("rect", { x, y: Y(acc + v), width: bw, height: Math.max(0.5, Y(acc) - Y(acc + v)), fill: colour(c) });
      rect.append(s("title", { text: `${day} ${c}: ${format(v)}` }));
      svg.append(rect);
      acc += v;
    });
    if (i % every === 0) {
      const [yy, mm, dd] = day.split("-").map(Number);
      const lbl = new Intl.DateTimeFormat(loc, { day: "numeric", month: "short", timeZone: "UTC" }).format(Date.UTC(yy, mm - 1, dd));
      svg.append(s("text", { x: Math.min(width - 22, Math.max(m.l + 18, x + bw / 2)), y: height - 8, "text-anchor": "middle", text: lbl }));
    }
  });
  return { svg, categories: cats };
}

export const formatRpAxis = (v) => rupiah(v);
