// Charts: fill history per bin; kg and rupiah per category per day.
import { $, h, fill, rupiah, kg, num, localDay, errorText, dayStartUtc, toast } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { lineChart, stackedDayBars, PALETTE } from "../charts.js";
import { state, categoryName, binName } from "./state.js";

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
    const b = state.bins.get(id);
    fill(box, lineChart(points.map((p) => ({ t: p.at, v: p.fill_pct })), { yMax: 100, unit: "%", threshold: b ? b.threshold_pct : null, label: `${t("charts.fill")}: ${binName(id)}`, start: since, end: new Date() }));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export async function showDailyCharts() {
  const days = Number($("#chart-day-period").value);
  const start = new Date(Date.now() - (days - 1) * 86400e3);
  try {
    const rows = await E.categoryDays(dayStartUtc(localDay(start)));
    const cats = [...new Set(rows.map((r) => r.category))].sort();
    const dayList = [];
    for (let i = days - 1; i >= 0; i--) dayList.push(localDay(new Date(Date.now() - i * 86400e3)));
    const kgRows = rows.map((r) => ({ day: r.day, category: r.category, value: r.net_g / 1000 }));
    const rpRows = rows.map((r) => ({ day: r.day, category: r.category, value: r.amount_rp }));
    fill($("#chart-kg"), stackedDayBars(kgRows, { categories: cats, days: dayList, format: (v) => `${num(v, 1)} kg`, label: t("charts.kg") }).svg);
    fill($("#chart-rp"), stackedDayBars(rpRows, { categories: cats, days: dayList, format: (v) => rupiah(v), label: t("charts.rp") }).svg);
    fill($("#chart-legend"), cats.map((c, i) => h("span", {}, h("i", { style: `background:${PALETTE[i % PALETTE.length]}` }), categoryName(c))));
  } catch (err) {
    fill($("#chart-kg"), h("p", { class: "form-error", text: errorText(err) }));
  }
}

export function renderBinSelect() {
  const sel = $("#chart-bin");
  const current = sel.value;
  const bins = [...state.bins.values()].sort((a, b) => (a.name || a.bin_id).localeCompare(b.name || b.bin_id));
  fill(sel, bins.map((b) => h("option", { value: b.bin_id, text: b.name || b.bin_id })));
  if (current) sel.value = current;
}

// ------------------------------------------------------------------ reports

/** Default period: the first of this month to today (local days). */
export function initReports() {
  const today = localDay(new Date());
  if (!$("#report-from").value) $("#report-from").value = `${today.slice(0, 8)}01`;
  if (!$("#report-to").value) $("#report-to").value = today;
}

export async function downloadReport(kind) {
  const from = $("#report-from").value;
  const to = $("#report-to").value;
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
