// Inline SVG charts: the bin coordinate plot, a time-series line and stacked day bars.
// No chart library; each function returns an <svg> element sized by its viewBox.
import { s, fillClass, clock, num, rupiah, toDate, TIME_ZONE, zoneOffsetMs } from "./util.js";
import { lang, t } from "./i18n.js";

/** Colour-blind-friendly palette for categories (Okabe-Ito, darkened for contrast). */
export const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b8860b", "#56b4e9", "#6a3d9a", "#555555"];

/** A top for `ticks` equal steps of 1, 2 or 5 x 10^n that covers `v`. */
function niceMax(v, ticks = 4) {
  if (!(v > 0)) return ticks;
  const raw = v / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p * ticks;
  return 10 * p * ticks;
}

/** Left margin wide enough for the longest y label. */
function leftMargin(labels) {
  return Math.max(40, 12 + 6.5 * Math.max(...labels.map((l) => l.length)));
}

/**
 * Bins on a plane. Uses x/y when every located bin has them, else lon/lat (equirectangular
 * is fine at a town's scale). `onSelect(bin)` is called on click or Enter.
 */
export function binPlot(bins, { width = 440, height = 280, onSelect } = {}) {
  const useXY = bins.some((b) => b.x != null && b.y != null);
  const located = bins.filter((b) => (useXY ? b.x != null && b.y != null : b.lat != null && b.lon != null));
  const pts = located.map((b) => ({ b, px: useXY ? b.x : b.lon, py: useXY ? b.y : b.lat }));
  const svg = s("svg", { class: "plot", viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": t("bins.map") });
  if (!pts.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", text: t("bins.none") }));
    return svg;
  }
  const pad = 36;
  let [x0, x1] = [Math.min(...pts.map((p) => p.px)), Math.max(...pts.map((p) => p.px))];
  let [y0, y1] = [Math.min(...pts.map((p) => p.py)), Math.max(...pts.map((p) => p.py))];
  if (x1 - x0 < 1e-9) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
  // keep the aspect ratio so distances look right
  const sx = (width - 2 * pad) / (x1 - x0);
  const sy = (height - 2 * pad) / (y1 - y0);
  const k = Math.min(sx, sy);
  const ox = (width - k * (x1 - x0)) / 2;
  const oy = (height - k * (y1 - y0)) / 2;
  for (let i = 1; i < 4; i++) {
    svg.append(s("line", { class: "gridline", x1: (width * i) / 4, x2: (width * i) / 4, y1: 0, y2: height }));
    svg.append(s("line", { class: "gridline", y1: (height * i) / 4, y2: (height * i) / 4, x1: 0, x2: width }));
  }
  for (const { b, px, py } of pts) {
    const cx = ox + (px - x0) * k;
    const cy = height - (oy + (py - y0) * k); // north / +y up
    const label = `${b.name || b.bin_id}: ${b.fill_pct == null ? t("unknown") : num(Math.floor(b.fill_pct)) + " %"}${b.fault ? " – " + t("bins.fault") : ""}`;
    const g = s("g", {
      class: fillClass(b.fill_pct),
      tabindex: 0,
      role: "button",
      "aria-label": label,
      "data-bin": b.bin_id,
      onclick: () => onSelect && onSelect(b),
      onkeydown: (e) => {
        if ((e.key === "Enter" || e.key === " ") && onSelect) {
          e.preventDefault();
          onSelect(b);
        }
      },
    });
    const r = 9 + Math.min(100, b.fill_pct || 0) / 12;
    g.append(s("circle", { class: "bin-dot", cx, cy, r }), s("title", { text: label }));
    if (b.fault) g.append(s("text", { x: cx, y: cy + 4, "text-anchor": "middle", style: "fill:#fff;font-weight:700", text: "!" }));
    const anchor = cx > width - 90 ? "end" : "start";
    g.append(s("text", { class: "bin-label", x: anchor === "end" ? cx - r - 4 : cx + r + 4, y: cy + 4, "text-anchor": anchor, text: `${b.name || b.bin_id} ${b.fill_pct == null ? "" : num(Math.floor(b.fill_pct)) + "%"}` }));
    svg.append(g);
  }
  return svg;
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
 * yMax (fixed top, e.g. 100 for %), threshold (dashed line), unit (suffix).
 */
export function lineChart(points, { width = 640, height = 240, yMax, threshold, unit = "", label = "", start, end } = {}) {
  const pts = points.map((p) => ({ t: toDate(p.t).getTime(), v: Number(p.v) })).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  if (!pts.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", text: t("charts.nodata") }));
    return svg;
  }
  const top = yMax ?? niceMax(Math.max(...pts.map((p) => p.v)));
  const m = { l: leftMargin([0, 1, 2, 3, 4].map((i) => num((top * i) / 4) + unit)), r: 24, t: 12, b: 28 };
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  let t0 = start ? toDate(start).getTime() : pts[0].t;
  let t1 = end ? toDate(end).getTime() : pts[pts.length - 1].t;
  if (t1 <= t0) [t0, t1] = [t0 - 1800e3, t1 + 1800e3];
  const X = (tm) => m.l + ((tm - t0) / (t1 - t0)) * W;
  const Y = (v) => m.t + H - (Math.max(0, Math.min(top, v)) / top) * H;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(s("line", { class: "gridline", x1: m.l, x2: m.l + W, y1: Y(v), y2: Y(v) }));
    svg.append(s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end", text: num(v) + unit }));
  }
  for (const tm of timeTicks(t0, t1)) {
    svg.append(s("text", { x: X(tm), y: height - 8, "text-anchor": "middle", text: tickLabel(tm, t1 - t0) }));
  }
  if (threshold != null) {
    svg.append(s("line", { class: "threshold", x1: m.l, x2: m.l + W, y1: Y(threshold), y2: Y(threshold) }));
    svg.append(s("text", { x: m.l + W, y: Y(threshold) - 4, "text-anchor": "end", style: "fill:var(--fill-2)", text: t("charts.threshold", { pct: num(threshold) + unit }) }));
  }
  const d = pts.map((p, i) => `${i ? "L" : "M"}${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join(" ");
  svg.append(s("path", { class: "series", d }));
  if (pts.length <= 60) for (const p of pts) svg.append(s("circle", { cx: X(p.t), cy: Y(p.v), r: 2.5, fill: "var(--brand)" }));
  return svg;
}

/**
 * Stacked bars per day. `rows`: [{day: "YYYY-MM-DD", category, value}]; `format` labels
 * the y axis. Returns {svg, categories} (categories in colour order, for a legend).
 */
export function stackedDayBars(rows, { width = 640, height = 240, format = (v) => num(v), label = "", categories, days: allDays } = {}) {
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
  const every = Math.ceil(days.length / 10);
  days.forEach((day, i) => {
    const x = m.l + slot * i + (slot - bw) / 2;
    let acc = 0;
    cats.forEach((c, ci) => {
      const v = rows.filter((r) => r.day === day && r.category === c).reduce((a, r) => a + Number(r.value || 0), 0);
      if (!v) return;
      const rect = s("rect", { x, y: Y(acc + v), width: bw, height: Math.max(0.5, Y(acc) - Y(acc + v)), fill: PALETTE[ci % PALETTE.length] });
      rect.append(s("title", { text: `${day} ${c}: ${format(v)}` }));
      svg.append(rect);
      acc += v;
    });
    if (i % every === 0) {
      const [yy, mm, dd] = day.split("-").map(Number);
      const lbl = new Intl.DateTimeFormat(loc, { day: "numeric", month: "short", timeZone: "UTC" }).format(Date.UTC(yy, mm - 1, dd));
      svg.append(s("text", { x: x + bw / 2, y: height - 8, "text-anchor": "middle", text: lbl }));
    }
  });
  return { svg, categories: cats };
}

export const formatRpAxis = (v) => rupiah(v);
