// Stock and mass balance per site (chart + tables), sales entry, losses and counts,
// CSV exports and the monthly programme report.
import "./stock_strings.js";
import { $, h, s, fill, cardTable, kg, rupiah, num, dateTime, localDay, toast, errorText, newKey, parseKgToGrams, parseRupiah } from "../util.js";
import { bindDateField, dateFieldValue, setDateField } from "../datefield.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { chartWidth } from "../charts.js";
import { state, categoryName } from "./state.js";
import { downloadReport } from "./trends.js";
import { buildStockView } from "./stock_view.js";

const view = { sites: [], started: false };

function selectedSite() {
  const v = $("#stock-site").value;
  return v ? Number(v) : undefined;
}

/** The chosen local days; a start after the end starts at the end's month instead. */
function period() {
  const to = dateFieldValue($("#stock-to")) || undefined;
  let from = dateFieldValue($("#stock-from")) || undefined;
  if (from && to && from > to) setDateField($("#stock-from"), (from = `${to.slice(0, 8)}01`));
  return { from, to };
}

function siteCode(id) {
  const site = view.sites.find((x) => x.id === id);
  return site ? site.code : `#${id}`;
}

/** Columns for cardTable(): [label key, numeric?]. */
function columns(...spec) {
  return spec.map(([key, numeric]) => ({ label: t(key), num: Boolean(numeric) }));
}

// ------------------------------------------------------------------ chart

/** The chart's four series and their colours (Okabe-Ito, readable with colour blindness). */
const SERIES = [
  ["in", "#0072b2", (r) => r.came_in_g], ["sold", "#d55e00", (r) => -r.sold_g],
  ["lost", "#cc79a7", (r) => r.loss_total_g], ["closing", "#009e73", (r) => r.closing_g],
];

/** A category's axis label as lines that fit `room` px of 12 px text (7.2 px a
 * character, as charts.js reckons): words wrapped, a word too long cut with "…". */
export function labelLines(text, room) {
  const fits = Math.max(3, Math.floor(room / 7.2));
  const lines = [];
  for (const word of text.split(" ")) {
    const joined = lines.length ? `${lines[lines.length - 1]} ${word}` : null;
    if (joined !== null && joined.length <= fits) lines[lines.length - 1] = joined;
    else lines.push(word);
  }
  return lines.map((l) => (l.length <= fits ? l : `${l.slice(0, fits - 1)}…`));
}

/** Grouped bars per category: came in, sold, lost, closing stock (kg). */
export function balanceChart(rows, { width = 640, height = 240 } = {}) {
  const series = SERIES.map(([name, , f]) => [name, f]);
  const cats = [...new Set(rows.map((r) => r.category))].sort();
  const sum = (cat, f) => rows.filter((r) => r.category === cat).reduce((a, r) => a + f(r), 0) / 1000;
  const values = cats.map((c) => series.map(([, f]) => Math.max(0, sum(c, f))));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("stock.chart") });
  if (!cats.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", text: t("stock.mb.none") }));
    return svg;
  }
  const raw = Math.max(1, ...values.flat());
  const p = 10 ** Math.floor(Math.log10(raw / 4));
  const step = [1, 2, 5, 10].map((m) => m * p).find((st) => raw / st <= 4);
  const top = step * 4;
  const m = { l: 12 + 7 * String(num(top)).length, r: 8, t: 10, b: 30 };
  const W = width - m.l - m.r;
  const slot = W / cats.length;
  // a narrow chart (a phone) wraps long category names instead of overlapping them
  const labels = cats.map((c) => labelLines(categoryName(c), slot - 4));
  m.b += 14 * (Math.max(...labels.map((l) => l.length)) - 1);
  const H = height - m.t - m.b;
  const Y = (v) => m.t + H - (v / top) * H;
  for (let i = 0; i <= 4; i++) {
    svg.append(s("line", { class: "gridline", x1: m.l, x2: m.l + W, y1: Y(step * i), y2: Y(step * i) }));
    svg.append(s("text", { x: m.l - 6, y: Y(step * i) + 4, "text-anchor": "end", text: num(step * i) }));
  }
  const bw = Math.min(22, (slot * 0.8) / series.length);
  cats.forEach((c, ci) => {
    const x0 = m.l + slot * ci + (slot - bw * series.length) / 2;
    series.forEach(([name], si) => {
      const v = values[ci][si];
      const rect = s("rect", { x: x0 + si * bw, y: Y(v), width: bw - 1, height: Math.max(0.5, Y(0) - Y(v)), fill: SERIES[si][1] });
      rect.append(s("title", { text: `${categoryName(c)} – ${t(`series.${name}`)}: ${num(v, 1)} kg` }));
      svg.append(rect);
    });
    const x = m.l + slot * ci + slot / 2;
    svg.append(s("text", { x, y: Y(0) + 20, "text-anchor": "middle", class: "category-label" },
      labels[ci].map((line, li) => s("tspan", { x, dy: li ? 14 : 0, text: line })),
      s("title", { text: categoryName(c) })));
  });
  return svg;
}

// ------------------------------------------------------------------ render

function renderStock(all) {
  const levels = all.filter((l) => l.qty_g !== 0 || l.unassigned_g !== 0); // empty stores say nothing
  const rows = levels.map((l) => [siteCode(l.site_id), categoryName(l.category), kg(l.qty_g, 1), l.unassigned_g ? kg(l.unassigned_g, 1) : "–"]);
  fill($("#stock-now"), levels.length
    ? cardTable(columns(["stock.site"], ["stock.category"], ["stock.qty", 1], ["stock.unassigned", 1]), rows, (i) => ({ "data-category": levels[i].category }))
    : h("p", { class: "empty", text: t("stock.none") }));
}

function renderBalance(rows) {
  fill($("#stock-chart"), balanceChart(rows, { width: chartWidth($("#stock-chart")) }),
    h("div", { class: "chart-legend" }, SERIES.map(([k, colour]) => h("span", {}, h("i", { style: `background:${colour}` }), t(`series.${k}`)))));
  const flags = (r) => r.flags.length
    ? r.flags.map((f) => h("span", { class: "badge bad", text: t(`flag.${f}`) }))
    : h("span", { class: "badge ok", text: t("stock.mb.ok") });
  const cells = rows.map((r) => [r.site_code, categoryName(r.category), kg(r.opening_g, 1), kg(r.came_in_g, 1), kg(r.door_g, 1),
    kg(-r.sold_g, 1), kg(r.loss_total_g, 1), kg(r.allowed_loss_g, 1), kg(r.closing_g, 1), h("span", {}, flags(r))]);
  fill($("#stock-balance"), rows.length
    ? cardTable(columns(["stock.site"], ["stock.category"], ["stock.mb.opening", 1], ["stock.mb.in", 1], ["stock.mb.door", 1],
      ["stock.mb.sold", 1], ["stock.mb.lost", 1], ["stock.mb.allowed", 1], ["stock.mb.closing", 1], ["stock.mb.flags"]),
    cells, (i) => ({ "data-flags": rows[i].flags.join(" ") }))
    : h("p", { class: "empty", text: t("stock.mb.none") }));
}

function renderSales(sales) {
  fill($("#stock-sales"), sales.length
    ? cardTable(columns(["feed.time"], ["stock.site"], ["stock.category"], ["sale.buyer"], ["sale.kg", 1], ["sale.amount", 1]),
      sales.map((x) => [dateTime(x.sold_at), siteCode(x.site_id), categoryName(x.category_code), x.buyer, kg(x.qty_g, 1), rupiah(x.amount_rp)]))
    : h("p", { class: "empty", text: t("sale.none") }));
}

// ------------------------------------------------------------------ forms

function fillSelects() {
  const sites = view.sites.map((x) => h("option", { value: x.id, text: `${x.code} · ${x.name}` }));
  fill($("#stock-site"), h("option", { value: "", text: t("stock.all_sites") }), sites);
  for (const id of ["#sale-site", "#move-site"]) fill($(id), view.sites.map((x) => h("option", { value: x.id, text: x.code })));
  const cats = [...state.categories.values()].map((c) => h("option", { value: c.code, text: categoryName(c.code) }));
  fill($("#sale-category"), cats);
  fill($("#move-category"), [...state.categories.values()].map((c) => h("option", { value: c.code, text: categoryName(c.code) })));
  fillScales();
}

/** The sale form's scales: the stations of the site chosen (a page of up to 500). */
async function fillScales() {
  const site = Number($("#sale-site").value);
  const page = site ? await E.devices({ site_id: site, kind: "station", revoked: false }, 0, 500).catch(() => null) : null;
  const scales = page ? page.items : [];
  if (Number($("#sale-site").value) !== site) return; // chosen again meanwhile
  fill($("#sale-scale"), h("option", { value: "", text: t("sale.ticket") }), scales.map((d) => h("option", { value: d.device_id, text: d.name || d.device_id })));
  $("#sale-ticket").disabled = Boolean($("#sale-scale").value);
}

function suggestAmount() {
  const g = parseKgToGrams($("#sale-kg").value);
  const price = parseRupiah($("#sale-price").value) ?? 0;
  if (g && price && !$("#sale-amount").dataset.touched) $("#sale-amount").value = String(Math.floor((g * price + 500) / 1000));
}

async function submitSale(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const qty_g = parseKgToGrams($("#sale-kg").value);
  if (!qty_g) return toast(t("sale.bad_kg"), "bad");
  const scale = $("#sale-scale").value;
  const body = {
    site_id: Number($("#sale-site").value), category: $("#sale-category").value, buyer: $("#sale-buyer").value.trim(), qty_g,
    rp_per_kg: parseRupiah($("#sale-price").value) ?? 0,
    amount_rp: parseRupiah($("#sale-amount").value) ?? 0,
    scale_device_id: scale || undefined, ticket_no: scale ? undefined : $("#sale-ticket").value.trim() || undefined,
  };
  try {
    await E.createSale(body, form.dataset.key);
    form.dataset.key = newKey();
    form.reset();
    delete $("#sale-amount").dataset.touched;
    toast(t("sale.ok"));
    showStock();
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

async function submitMove(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const grams = parseKgToGrams($("#move-kg").value) ?? ($("#move-kg").value.trim() === "0" ? 0 : null);
  if (grams === null) return toast(t("sale.bad_kg"), "bad");
  const base = { site_id: Number($("#move-site").value), category: $("#move-category").value, note: $("#move-note").value.trim() || undefined };
  try {
    if ($("#move-kind").value === "count") await E.recordCount({ ...base, counted_g: grams }, form.dataset.key);
    else await E.recordLoss({ ...base, qty_g: grams, reason: $("#move-reason").value }, form.dataset.key);
    form.dataset.key = newKey();
    form.reset();
    toast(t("move.ok"));
    showStock();
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

async function openReport() {
  const month = (period().to || localDay(new Date())).slice(0, 7);
  const tab = window.open("", "_blank");
  try {
    const blob = await E.programmeReport(month, document.documentElement.lang === "en" ? "en" : "id", selectedSite());
    const url = URL.createObjectURL(blob);
    if (tab) tab.location = url;
    else window.location.assign(url);
  } catch (err) {
    if (tab) tab.close();
    toast(errorText(err), "bad");
  }
}

function bindOnce() {
  if (view.started) return;
  view.started = true;
  buildStockView($("#view-stock"));
  const today = localDay(new Date());
  for (const id of ["stock-from", "stock-to"]) bindDateField($(`#${id}`), $(`#${id}-hint`));
  setDateField($("#stock-from"), `${today.slice(0, 8)}01`);
  setDateField($("#stock-to"), today);
  $("#stock-filter").addEventListener("submit", (ev) => (ev.preventDefault(), showStock()));
  $("#sale-form").dataset.key = newKey();
  $("#move-form").dataset.key = newKey();
  $("#sale-form").addEventListener("submit", submitSale);
  $("#move-form").addEventListener("submit", submitMove);
  $("#sale-site").addEventListener("change", fillScales);
  $("#sale-scale").addEventListener("change", () => ($("#sale-ticket").disabled = Boolean($("#sale-scale").value)));
  for (const id of ["#sale-kg", "#sale-price"]) $(id).addEventListener("input", suggestAmount);
  $("#sale-amount").addEventListener("input", () => ($("#sale-amount").dataset.touched = "1"));
  $("#move-kind").addEventListener("change", () => ($("#move-reason").disabled = $("#move-kind").value === "count"));
  const csv = (kind) => () => downloadReport(kind, period().from, period().to);
  $("#export-movements").addEventListener("click", csv("stock-movements"));
  $("#export-sales").addEventListener("click", csv("sales"));
  $("#export-mb").addEventListener("click", csv("mass-balance"));
  $("#export-report").addEventListener("click", openReport);
}

/** Show the stock view: read stock, mass balance and sales of the chosen site and period. */
export async function showStock() {
  bindOnce();
  try {
    if (!view.sites.length) {
      const [sites, cats] = await Promise.all([E.sites(), state.categories.size ? null : E.categories()]);
      // the dashboard may still be loading its categories (operator.js): the selects need them now
      if (cats && !state.categories.size) state.categories = new Map(cats.map((c) => [c.code, c]));
      view.sites = sites;
      fillSelects();
    }
    const site_id = selectedSite();
    const [levels, balance, sales] = await Promise.all([
      E.stock(site_id), E.massBalance({ site_id, ...period() }), E.sales({ site_id, ...period(), limit: 20 }),
    ]);
    renderStock(levels);
    renderBalance(balance);
    renderSales(sales);
  } catch (err) {
    fill($("#stock-now"), h("p", { class: "form-error", text: errorText(err) }));
  }
}
