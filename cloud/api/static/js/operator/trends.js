// Charts: fill history per bin; kg and rupiah per category per day.
import { $, h, fill, rupiah, num, localDay, errorText, dayStartUtc, toast, dateTime } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { lineChart, stackedDayBars, chartWidth } from "../charts.js";
import { bindDateField, setDateField, dateFieldValue } from "../datefield.js";
import { state, categoryName, categoryColour, binName } from "./state.js";

/** The last data drawn, so a resize (a phone turned, a window narrowed) redraws it. */
const drawn = { fill: null, days: null };

// ------------------------------------------------------------------ charts

export async function showBinChart(binId) {
  if (binId) {
    $("#chart-bin").value = binId;
    location.hash = "#charts";
  }
  const id = $("#chart-bin").value;
  const box = $("#chart-fill");
  if (!id) {
    fill(box, h("p", { class: "empty", text: t("bins.none") }));
    return;
  }
  const hours = Number($("#chart-fill-period").value);
  const since = new Date(Date.now() - hours * 3600e3).toISOString();  // UTC with Z
  try {
    const points = await E.fillHistory(id, since);
    drawn.fill = { id, since, points: points.map((p) => ({ t: p.at, v: p.fill_pct })) };
    drawFill();
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

function drawFill() {
  const d = drawn.fill;
  const box = $("#chart-fill");
  if (!d || !box.clientWidth) return;
  const b = state.bins.get(d.id);
  const threshold = b ? b.threshold_pct : null;
  const narrow = box.clientWidth < 480;
  fill(box, lineChart(d.points, { width: chartWidth(box), height: narrow ? 200 : 240, yMax: 100, unit: "%", threshold, label: `${t("charts.fill")}: ${binName(d.id)}`, start: d.since, end: new Date() }));
  const shown = d.points.length ? t("charts.shown", { from: dateTime(d.points.reduce((a, p) => (p.t < a ? p.t : a), d.points[0].t)), to: dateTime(new Date()) }) : "";
  fill($("#chart-fill-legend"),
    h("span", {}, h("i", { class: "line" }), t("charts.fill_series")),
    threshold != null ? h("span", {}, h("i", { class: "dashed" }), t("charts.threshold", { pct: `${num(threshold)} %` })) : null,
    shown ? h("span", { text: shown }) : null);
}

export async function showDailyCharts() {
  const days = Number($("#chart-day-period").value);
  const start = new Date(Date.now() - (days - 1) * 86400e3);
  try {
    const rows = await E.categoryDays(dayStartUtc(localDay(start)));
    const cats = [...new Set(rows.map((r) => r.category))].sort();
    const dayList = [];
    for (let i = days - 1; i >= 0; i--) dayList.push(localDay(new Date(Date.now() - i * 86400e3)));
    drawn.days = { rows, cats, dayList };
    drawDays();
  } catch (err) {
    fill($("#chart-kg"), h("p", { class: "form-error", text: errorText(err) }));
  }
}

function drawDays() {
  const d = drawn.days;
  const box = $("#chart-kg");
  if (!d || !box.clientWidth) return;
  const { rows, cats, dayList } = d;
  const opts = { categories: cats, days: dayList, colour: categoryColour, width: chartWidth(box), height: box.clientWidth < 480 ? 200 : 240 };
  const kgRows = rows.map((r) => ({ day: r.day, category: r.category, value: r.net_g / 1000 }));
  const rpRows = rows.map((r) => ({ day: r.day, category: r.category, value: r.amount_rp }));
  fill($("#chart-kg"), stackedDayBars(kgRows, { ...opts, format: (v) => `${num(v, 1)} kg`, label: t("charts.kg") }).svg);
  fill($("#chart-rp"), stackedDayBars(rpRows, { ...opts, format: (v) => rupiah(v), label: t("charts.rp") }).svg);
  fill($("#chart-legend"), cats.map((c) => {
    const swatch = h("i");
    swatch.style.background = categoryColour(c);
    return h("span", { "data-category": c }, swatch, categoryName(c));
  }));
}

/** Redraw the charts at their boxes' new width (text stays 12 px on any screen). */
export function watchChartSizes() {
  let last = 0;
  const ro = new ResizeObserver(() => {
    const w = $("#chart-kg").clientWidth;
    if (!w || Math.abs(w - last) < 8) return;
    last = w;
    drawFill();
    drawDays();
  });
  ro.observe($("#chart-kg"));
  ro.observe($("#chart-fill"));
}

export function renderBinSelect() {
  const sel = $("#chart-bin");
  const current = sel.value;
  const bins = [...state.bins.values()].sort((a, b) => (a.name || a.bin_id).localeCompare(b.name || b.bin_id));
  fill(sel, bins.map((b) => h("option", { value: b.bin_id, text: b.name || b.bin_id })));
  if (current) sel.value = current;
}

// ------------------------------------------------------------------ reports

/** The two report dates are typed the app's way (dd/mm/yyyy), whatever the browser's. */
export function bindReportDates() {
  bindDateField($("#report-from"), $("#report-from-hint"));
  bindDateField($("#report-to"), $("#report-to-hint"));
  $("#report-this-month").addEventListener("click", () => reportMonth(0));
  $("#report-last-month").addEventListener("click", () => reportMonth(-1));
}

/** This month (offset 0: its first day to today) or an earlier whole month. */
function reportMonth(offset) {
  const today = localDay(new Date());
  const [y, m] = today.split("-").map(Number);
  const first = new Date(Date.UTC(y, m - 1 + offset, 1));
  const last = offset === 0 ? today : new Date(Date.UTC(y, m + offset, 0)).toISOString().slice(0, 10);
  setDateField($("#report-from"), first.toISOString().slice(0, 10));
  setDateField($("#report-to"), last);
}

/** Default period: the first of this month to today (local days). */
export function initReports() {
  if (!dateFieldValue($("#report-from")) && !$("#report-from").value) reportMonth(0);
}

/** A CSV report of local days ``from``..``to`` (default: the report view's two fields). */
export async function downloadReport(kind, from = dateFieldValue($("#report-from")), to = dateFieldValue($("#report-to"))) {
  if (!from || !to) {
    toast(t("date.invalid"), "bad");
    return;
  }
  try {
    const blob = await E.reportCsv(kind, from, to);
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: `salinmas-${kind}-${from}-${to}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    toast(errorText(err), "bad");
  }
}
