// The operator's view of the collectors' routes (JEKNYONG): every route of the site on
// the one map component (a line per collector, numbered stops with ETAs), each
// collector's stops in order, and what no route takes with the reason. Reading the
// routes keeps them fresh (the API plans again when a stop was added or a collector is
// late); "Plan again" asks for a new plan now.
import "../doorstep_strings.js";
import { $, h, fill, clock, dateTime, toast, errorText, rupiah, parseRupiah, parseKgToGrams, newKey } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { createMap, mapAvailable } from "../map.js";
import { state, categoryName } from "./state.js";

const LINE_CLASSES = ["", "other", "third"];
let map = null;
let siteId = null;
let busy = null;
let again = null;

async function site() {
  if (siteId === null) {
    const sites = await E.sites();
    const placed = sites.find((s) => s.lat != null && s.lon != null) || sites[0];
    siteId = placed ? placed.id : 0;
  }
  return siteId;
}

/** Re-read (or, with `plan`, re-plan) and show the routes; calls while busy coalesce. */
export function showRoutes(plan = false) {
  if (busy) {
    again = again || plan || "read";
    return busy;
  }
  busy = (async () => {
    try {
      const id = await site();
      if (!id) return;
      render(plan ? await E.planRoutes(id) : await E.siteRoutes(id));
    } catch (err) {
      $("#routes-summary").textContent = errorText(err);
    } finally {
      busy = null;
    }
    if (again) {
      const next = again === true;
      again = null;
      await showRoutes(next);
    }
  })();
  return busy;
}

let timer = null;
/** A pickup changed: show the routes again soon, if they are on screen. */
export function routesMayHaveChanged() {
  if ($("#view-pickups").hidden) return;
  clearTimeout(timer);
  timer = setTimeout(() => showRoutes(), 2500);
}

function render(data) {
  const km = (m) => (m / 1000).toFixed(1);
  $("#routes-summary").textContent = data.plan_id
    ? t("routes.planned", { when: dateTime(data.planned_at), reason: t(`routes.reason.${data.reason}`), source: data.matrix_source, secs: (data.solve_s || 0).toFixed(1) })
    : data.problem || t("routes.none");
  fill($("#routes-list"), data.routes.map((r, i) => h("section", { class: "route", "data-collector": r.collector_id },
    h("h3", { text: t("routes.collector", { name: r.name, n: r.stops.length, km: km(r.distance_m), back: clock(r.back) }) }),
    r.stops.length ? h("ol", {}, r.stops.map((s) => h("li", { "data-pickup": s.pickup_id },
      h("strong", { text: clock(s.eta) }), " ", s.household_name || s.bin_name || `#${s.pickup_id}`,
      s.window_start ? h("span", { class: "small muted", text: ` (${clock(s.window_start)}–${clock(s.window_end)})` }) : null))) : h("p", { class: "empty", text: t("pickups.none") }),
    h("span", { class: `swatch line-${i % LINE_CLASSES.length}` }),
    depotCounter(r))));
  fill($("#routes-unserved"), data.unserved.length
    ? [h("h3", { text: t("routes.unserved") }), ...data.unserved.map((u) => h("p", { class: "notice small", "data-pickup": u.pickup_id, text: `${u.title || "#" + u.pickup_id}: ${u.detail}` }))]
    : []);
  renderMap(data);
}

// one per collector, kept across re-renders of the routes (which come with every pickup
// change), so a form being filled in stays open and keeps what was typed
const counters = new Map();

/** The counter's side of a collector's day: cash handed out (the float), and the return
 * to the waste bank: the box weighed per category into stock, the cash counted back. */
function depotCounter(r) {
  if (!counters.has(r.collector_id)) counters.set(r.collector_id, newDepotCounter(r.collector_id));
  return counters.get(r.collector_id);
}

function newDepotCounter(id) {
  const floatText = h("p", { class: "small", "data-float": "" });
  const refresh = async () => {
    try {
      floatText.textContent = t("depot.float", { rp: rupiah((await E.collectorFloat(id)).float_rp) });
    } catch (err) {
      floatText.textContent = errorText(err);
    }
  };
  const give = h("input", { id: `float-${id}`, inputmode: "numeric", autocomplete: "off" });
  const giveForm = h("form", { class: "row", "data-writes": "", onsubmit: async (ev) => {
    ev.preventDefault();
    const rp = parseRupiah(give.value);
    if (!rp) return;
    try {
      await E.issueFloat(id, rp, giveForm.dataset.key);
      giveForm.dataset.key = newKey();
      give.value = "";
      toast(t("depot.float.ok"));
      refresh();
    } catch (err) {
      toast(errorText(err), "bad");
    }
  } }, h("div", {}, h("label", { for: `float-${id}`, text: t("depot.float.give") }), give), h("button", { type: "submit", class: "secondary", text: t("depot.float.button") }));
  giveForm.dataset.key = newKey();
  const kgInputs = [...state.categories.values()].map((c) => {
    const input = h("input", { id: `depot-${id}-${c.code}`, inputmode: "decimal", autocomplete: "off", "data-category": c.code });
    return h("div", {}, h("label", { for: input.id, text: `${categoryName(c.code)} (kg)` }), input);
  });
  const cash = h("input", { id: `depot-cash-${id}`, inputmode: "numeric", autocomplete: "off" });
  const backForm = h("form", { class: "depot-form", "data-writes": "", onsubmit: async (ev) => {
    ev.preventDefault();
    const delivered = {};
    for (const input of backForm.querySelectorAll("input[data-category]")) {
      if (!input.value.trim()) continue;
      const g = parseKgToGrams(input.value);
      if (g === null) return toast(t("depot.bad_kg", { what: input.previousSibling.textContent }), "bad");
      delivered[input.dataset.category] = g;
    }
    const body = {};
    if (Object.keys(delivered).length) body.delivered_g = delivered;
    const counted = parseRupiah(cash.value);
    if (counted !== null) body.counted_cash_rp = counted;
    try {
      const out = await E.backAtDepot(id, body, backForm.dataset.key);
      backForm.dataset.key = newKey();
      backForm.reset();
      toast(out.delivery_id ? t("depot.ok.delivered", { n: out.delivered_weighins }) : t("depot.ok"));
      refresh();
    } catch (err) {
      toast(errorText(err), "bad");
    }
  } }, h("div", { class: "depot-grid" }, kgInputs, h("div", {}, h("label", { for: cash.id, text: t("depot.cash") }), cash)),
  h("button", { type: "submit", text: t("depot.button") }));
  backForm.dataset.key = newKey();
  const box = h("details", { class: "depot", "data-depot": id, ontoggle: (ev) => { if (ev.currentTarget.open) refresh(); } },
    h("summary", { text: t("depot.title") }), floatText, giveForm, h("h4", { text: t("depot.back") }), backForm);
  return box;
}

function renderMap(data) {
  const el = $("#routes-map");
  if (!mapAvailable() || !data.depot) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (!map) map = createMap(el, { config: (state.config && state.config.map) || {}, label: t("routes.map"), cluster: false });
  const depot = [data.depot.lat, data.depot.lon];
  const points = [{ id: "depot", kind: "station", lat: depot[0], lon: depot[1], label: t("col.depot"), title: t("col.depot"), priority: 2 }];
  const lines = [];
  data.routes.forEach((r, i) => {
    r.stops.forEach((s, n) => points.push({
      id: `stop-${s.pickup_id}`, kind: "stop", lat: s.lat, lon: s.lon, badge: String(n + 1),
      label: `${r.name.split(" ")[0]} ${n + 1}. ${clock(s.eta)}`, title: s.household_name || s.bin_name || "",
      className: `route-stop line-${i % LINE_CLASSES.length}`, priority: 1,
    }));
    lines.push({ id: `route-${r.collector_id}`, className: LINE_CLASSES[i % LINE_CLASSES.length], points: [depot, ...r.stops.map((s) => [s.lat, s.lon]), depot] });
  });
  map.update(points);
  map.lines(lines);
}

export function bindRoutes() {
  $("#routes-replan").addEventListener("click", async () => {
    const button = $("#routes-replan");
    button.disabled = true;
    try {
      await showRoutes(true);
    } catch (err) {
      toast(errorText(err), "bad");
    } finally {
      button.disabled = false;
    }
  });
}
