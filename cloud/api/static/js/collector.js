// The collector's page (phone first, works without signal): the day's route in order
// with a map and "open in maps" per stop, weighing at the door, and what waits to be
// sent. An installable web app: collector-sw.js keeps the page's files, store.js the
// route, prices and the completions (IndexedDB); outbox.js sends completions when the
// network is back, as often as it takes (the API credits each event id once).
import "./doorstep_strings.js";
import { E } from "./endpoints.js";
import { initShell } from "./shell.js";
import { lang, onLangChange, t } from "./i18n.js";
import { onUnauthorized, saveSession, token, who } from "./api.js";
import { $, h, fill, kg, rupiah, clock, dateTime, parseKgToGrams, toast, errorText } from "./util.js";
import { createMap, mapAvailable } from "./map.js";
import { cached, keep, getMeta, setMeta, deleteMeta } from "./collector/store.js";
import { checkClock, outboxState, queueCompletion, sendQueued } from "./collector/outbox.js";
import { canReadScale, readScale } from "./collector/scale.js";

const POLL_MS = 20000;
const PHOTO_MAX_PX = 1024;

let me = null;
let route = null;
let routeAt = null;
let fromCache = false;
let categories = [];
let uiConfig = null;
let box = { waiting: [], all: [] };
let online = navigator.onLine;
let map = null;
const open = new Set(); // stops whose weighing form is open

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("collector-sw.js", { scope: "./collector" }).catch(() => {});
}

// ------------------------------------------------------------------ data

function category(code) {
  return categories.find((c) => c.code === code);
}

function categoryName(code) {
  const c = category(code);
  return c ? (lang() === "en" ? c.name_en : c.name_id) : code;
}

/** Rupiah for `grams` at the cached price: the API's rounding (half up, once). */
function amountFor(grams, code) {
  const c = category(code);
  return c && c.rp_per_kg != null ? Math.floor((grams * c.rp_per_kg + 500) / 1000) : 0;
}

/** Fetch `load()`, keep the answer under `key`; without signal, the kept answer. */
async function fresh(key, load) {
  try {
    const value = await load();
    await keep(key, value);
    setOnline(true);
    return { value, at: null };
  } catch (err) {
    if (err.status !== 0) throw err;
    setOnline(false);
    const kept = await cached(key);
    return kept ? { value: kept.value, at: kept.at } : { value: null, at: null };
  }
}

async function load() {
  if (!me) return;
  try {
    const r = await fresh(`route:${me.id}`, () => E.collectorRoute(me.id));
    if (r.value) {
      route = r.value;
      routeAt = r.at || new Date().toISOString();
      fromCache = !!r.at;
    }
  } catch (err) {
    toast(errorText(err), "bad");
  }
  box = await outboxState(me.id);
  render();
}

async function send() {
  if (!me) return;
  const before = box.waiting.length;
  renderOutbox(true);
  const out = await sendQueued(me.id, async () => {
    box = await outboxState(me.id);
    renderOutbox(true);
  });
  box = await outboxState(me.id);
  if (out.sent) setOnline(true);
  if (out.needLogin) toast(t("col.relogin"), "bad");
  if (out.sent || out.failed || before !== box.waiting.length) await load();
  else render();
}

function setOnline(value) {
  online = value;
  const pill = $("#net");
  pill.dataset.state = online ? "open" : "error";
  pill.textContent = t(online ? "net.online" : "net.offline");
}

// ------------------------------------------------------------------ rendering

function render() {
  setOnline(online);
  renderOutbox(false);
  renderRoute();
  renderDone();
}

function renderOutbox(busy) {
  const card = $("#outbox-card");
  const waiting = box.waiting;
  const refused = box.all.filter((i) => i.status === "refused");
  card.dataset.waiting = String(waiting.length);
  $("#send-now").disabled = busy || waiting.length === 0;
  $("#send-now").textContent = t(busy && waiting.length ? "col.sending" : "col.send_now");
  $("#outbox-status").textContent = waiting.length ? t("col.waiting.n", { n: waiting.length }) : t("col.waiting.none");
  fill($("#outbox-list"), [...waiting, ...refused].map((i) =>
    h("li", { "data-event": i.event_id, "data-status": i.status },
      h("strong", { text: i.title }), " ",
      h("span", { class: `badge ${i.status === "refused" ? "bad" : "warn"}`, text: i.status === "refused" ? t("col.refused", { why: i.last_error || "?" }) : t("col.waiting") }),
      h("div", { class: "small muted", text: `${dateTime(i.created_at)} · ${kg(i.body.lines.reduce((a, l) => a + l.net_g, 0))}` }))));
}

/** Pickups completed on this phone (sent or not): they are off the list of stops. */
function doneHere() {
  return new Set(box.all.filter((i) => i.status !== "refused").map((i) => i.pickup_id));
}

function renderRoute() {
  const stops = route ? route.stops.filter((s) => !doneHere().has(s.pickup_id)) : [];
  const parts = [];
  if (route && route.stops.length) {
    parts.push(t("col.route.summary", { n: stops.length, km: (route.distance_m / 1000).toFixed(1).replace(".", lang() === "en" ? "." : ","), back: clock(route.back) }));
  }
  if (route && route.planned_at) parts.push(t("col.route.planned", { when: clock(route.planned_at) }));
  if (fromCache && routeAt) parts.push(t("col.route.cached", { when: dateTime(routeAt) }));
  if (route && route.problem) parts.push(route.problem);
  $("#route-summary").textContent = parts.join(" · ");
  fill($("#stops"), stops.length ? stops.map(stopEl) : h("li", { class: "empty", text: route ? t("col.none") : t("col.route.none") }));
  fill($("#unserved"), (route ? route.unserved : []).map((u) => h("li", { class: "notice", text: `${u.title || "#" + u.pickup_id}: ${t("col.unserved", { detail: u.detail })}` })));
  renderMap(stops);
}

function renderMap(stops) {
  const el = $("#route-map");
  if (!mapAvailable() || !route || !route.depot || !stops.length) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (!map) map = createMap(el, { config: (uiConfig && uiConfig.map) || {}, label: t("col.route.map"), cluster: false });
  const depot = { id: "depot", kind: "station", lat: route.depot.lat, lon: route.depot.lon, label: t("col.depot"), title: t("col.depot"), priority: 2 };
  map.update([depot, ...stops.map((s, i) => ({
    id: `stop-${s.pickup_id}`, kind: "stop", lat: s.lat, lon: s.lon, badge: String(i + 1),
    label: `${i + 1}. ${clock(s.eta)}`, title: stopTitle(s), className: "route-stop", priority: 1,
  }))]);
  const path = [[route.depot.lat, route.depot.lon], ...stops.map((s) => [s.lat, s.lon]), [route.depot.lat, route.depot.lon]];
  map.lines([{ id: "me", points: path, className: "mine" }]);
}

function stopTitle(s) {
  if (s.household_name) return `${s.household_name}${s.member_no ? " (" + s.member_no + ")" : ""}`;
  return s.bin_name || t("col.bin", { id: s.bin_id });
}

function stopEl(s, index) {
  const li = h("li", { class: "stop", "data-pickup": s.pickup_id, "data-status": s.status },
    h("div", { class: "title" }, h("span", { class: "order", "aria-hidden": "true", text: String(index + 1) }),
      h("strong", { text: stopTitle(s) }), h("span", { class: "eta", text: t("col.eta", { when: clock(s.eta) }) })),
    s.window_start ? h("div", { class: "small", text: t("col.window", { from: clock(s.window_start), to: clock(s.window_end) }) }) : null,
    s.address ? h("div", { text: `${t("col.address")}: ${s.address}` }) : null,
    s.phone ? h("div", {}, h("a", { href: `tel:${s.phone.replace(/[^\d+]/g, "")}`, text: `${t("col.call")} ${s.phone}` })) : null,
    h("div", { class: "small muted", text: [
      (s.categories || []).map(categoryName).join(", "),
      s.estimated_g ? t("col.estimate", { kg: kg(s.estimated_g) }) : null,
    ].filter(Boolean).join(" · ") }),
    s.note ? h("div", { class: "small", text: `“${s.note}”` }) : null,
    h("div", { class: "links" },
      h("a", { href: s.maps_url, class: "maps", text: t("col.maps") }),
      h("a", { href: s.web_maps_url, target: "_blank", rel: "noopener", text: t("col.osm") })));
  if (s.household_id) {
    const form = open.has(s.pickup_id) ? weighForm(s) : null;
    li.append(form || h("button", { type: "button", class: "weigh", text: t("col.weigh"), onclick: () => {
      open.add(s.pickup_id);
      renderRoute();
      const first = document.querySelector(`li[data-pickup="${s.pickup_id}"] input.kg`);
      if (first) first.focus();
    } }));
  }
  return li;
}

// ------------------------------------------------------------------ weighing at the door

function bagRow(s, code, n) {
  const sel = h("select", { class: "cat", "aria-label": t("col.category") },
    categories.filter((c) => c.active !== false).map((c) => h("option", { value: c.code, text: lang() === "en" ? c.name_en : c.name_id, selected: c.code === code })));
  const weight = h("input", { class: "kg", inputmode: "decimal", autocomplete: "off", placeholder: "0,0", "aria-label": `${t("col.bag", { n })} ${t("col.kg")}` });
  const photo = h("input", { class: "photo", type: "file", accept: "image/*", capture: "environment", "aria-label": t("col.photo") });
  const row = h("div", { class: "bag", "data-entry": "typed" },
    h("span", { class: "bag-n", text: t("col.bag", { n }) }), sel, weight,
    h("label", { class: "photo-btn" }, h("span", { text: t("col.photo_short") }), photo),
    h("button", { type: "button", class: "secondary small", "aria-label": t("col.remove_bag"), text: "✕", onclick: () => {
      const rows = row.parentElement;
      if (rows.children.length > 1) row.remove();
      rows.dispatchEvent(new Event("input", { bubbles: true }));
    } }));
  weight.addEventListener("input", () => {
    row.dataset.entry = "typed"; // typed over a reading: it is what the collector says now
    delete row.dataset.frames;
  });
  return row;
}

function weighForm(s) {
  const rows = h("div", { class: "bags" });
  const codes = s.categories && s.categories.length ? s.categories : [categories[0] && categories[0].code];
  codes.forEach((code, i) => rows.append(bagRow(s, code, i + 1)));
  const expected = h("p", { class: "expected", "aria-live": "polite" });
  const recalc = () => {
    let rp = 0;
    for (const row of rows.children) {
      const g = parseKgToGrams($("input.kg", row).value);
      if (g) rp += amountFor(g, $("select.cat", row).value);
    }
    expected.textContent = t("col.expected", { rp: rupiah(rp) });
    expected.dataset.rp = String(rp);
  };
  rows.addEventListener("input", recalc);
  rows.addEventListener("change", recalc);
  const payment = h("fieldset", { class: "payment" }, h("legend", { text: t("col.payment") }),
    ...["savings", "cash"].map((p) => h("label", { class: "radio" },
      h("input", { type: "radio", name: `pay-${s.pickup_id}`, value: p, checked: p === "savings" }), t(`col.pay.${p}`))));
  const note = h("textarea", { rows: 2, maxlength: 300, "aria-label": t("col.note"), placeholder: t("col.note") });
  const tools = h("div", { class: "row" },
    h("button", { type: "button", class: "secondary small", text: t("col.add_bag"), onclick: () => {
      rows.append(bagRow(s, codes[0], rows.children.length + 1));
      recalc();
    } }),
    canReadScale() ? h("button", { type: "button", class: "secondary small", text: t("col.read_scale"), onclick: async () => {
      const row = rows.lastElementChild;
      try {
        const got = await readScale();
        $("input.kg", row).value = String(got.grams / 1000).replace(".", ",");
        row.dataset.entry = "scale";
        row.dataset.scale = got.scale;
        row.dataset.frames = JSON.stringify(got.frames);
        toast(t("col.scale_read", { kg: kg(got.grams) }));
        recalc();
      } catch {
        toast(t("col.scale_failed"), "bad");
      }
    } }) : null);
  const form = h("form", { class: "weigh-form", "aria-label": t("col.weigh.title"), onsubmit: async (ev) => {
    ev.preventDefault();
    const button = $("button[type=submit]", form);
    const lines = [];
    for (const row of rows.children) {
      const input = $("input.kg", row);
      if (!input.value.trim()) continue; // a category the household did not have after all
      const grams = parseKgToGrams(input.value);
      if (grams === null) {
        toast(t("pickups.weight_invalid"), "bad");
        input.focus();
        return;
      }
      const file = $("input.photo", row).files[0];
      lines.push({
        category: $("select.cat", row).value, net_g: grams, weighed_at: new Date().toISOString(),
        entry: row.dataset.entry || "typed", scale: row.dataset.scale,
        frames: row.dataset.frames ? JSON.parse(row.dataset.frames) : [],
        photo: file ? await shrink(file) : undefined,
      });
    }
    if (!lines.length) {
      toast(t("pickups.weight_invalid"), "bad");
      $("input.kg", rows).focus();
      return;
    }
    button.disabled = true;
    const pay = $(`input[name="pay-${s.pickup_id}"]:checked`, form).value;
    await queueCompletion({ pickup: s, collectorId: me.id, lines, payment: pay, note: note.value.trim(), estimateRp: Number(expected.dataset.rp || 0) });
    open.delete(s.pickup_id);
    toast(t("col.saved"));
    box = await outboxState(me.id);
    render();
    send();
  } },
  h("h3", { text: t("col.weigh.title") }), rows, tools, payment, note, expected,
  h("div", { class: "row" },
    h("button", { type: "submit", class: "save", text: t("col.save") }),
    h("button", { type: "button", class: "secondary", text: t("col.cancel"), onclick: () => {
      open.delete(s.pickup_id);
      renderRoute();
    } })));
  recalc();
  return form;
}

/** A photo as base64 JPEG, at most PHOTO_MAX_PX on its longer side. */
async function shrink(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_MAX_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = h("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.7).split(",", 2)[1];
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ done today

function resultLines(lines) {
  return lines.map((l) => h("div", { class: "small", text: t("col.line", { cat: categoryName(l.category), kg: kg(l.net_g), rp: rupiah(l.amount_rp) }) }));
}

function renderDone() {
  const items = [];
  const local = new Set();
  for (const i of [...box.all].reverse()) {
    if (i.status === "refused") continue;
    local.add(i.pickup_id);
    const r = i.result;
    const message = r
      ? t(r.payment === "cash" ? "col.cash_paid" : "col.credited", { rp: rupiah(r.total_rp) })
      : t(i.body.payment === "cash" ? "col.pending_cash" : "col.pending_credit", { rp: rupiah(i.estimate_rp || 0) });
    items.push(h("li", { class: "stop done", "data-pickup": i.pickup_id, "data-status": r ? "sent" : "queued" },
      h("div", {}, h("strong", { text: i.title }), " ",
        h("span", { class: `badge ${r ? "ok" : "warn"}`, text: r ? t("home.request.status.done") : t("col.waiting") })),
      r ? resultLines(r.lines) : i.body.lines.map((l) => h("div", { class: "small", text: `${categoryName(l.category)} · ${kg(l.net_g)}` })),
      h("div", { class: `credit ${r ? "ok" : ""}`, text: message })));
  }
  for (const d of route ? route.done : []) {
    if (local.has(d.pickup_id)) continue;
    items.push(h("li", { class: "stop done", "data-pickup": d.pickup_id, "data-status": "done" },
      h("div", {}, h("strong", { text: d.title }), " ", h("span", { class: "badge ok", text: t("home.request.status.done") })),
      h("div", { class: "small muted", text: [clock(d.completed_at), d.collected_g ? kg(d.collected_g) : null,
        d.total_rp != null ? rupiah(d.total_rp) : null].filter(Boolean).join(" · ") })));
  }
  fill($("#done"), items.length ? items : h("li", { class: "empty", text: t("pickups.none") }));
  $("#float").textContent = route ? t("col.float", { rp: rupiah(route.float_rp) }) : "";
}

// ------------------------------------------------------------------ start

async function restoreSession() {
  // the token is kept on the phone too, so the day's page opens without signal
  if (token()) return;
  const s = await getMeta("session").catch(() => null);
  if (s && s.who && new Date(s.who.expires_at) > new Date()) saveSession(s.token, s.who);
}

$("#refresh").addEventListener("click", () => send().then(load));
$("#send-now").addEventListener("click", send);
$("#logout").addEventListener("click", () => deleteMeta("session"));
onUnauthorized(() => deleteMeta("session"));
onLangChange(render);
window.addEventListener("online", () => {
  setOnline(true);
  send();
});
window.addEventListener("offline", () => setOnline(false));

await restoreSession();
initShell({
  roles: ["collector"],
  login: (form) => E.login(String(form.get("username")).trim(), String(form.get("password"))),
  start: async (whoami) => {
    me = whoami;
    await setMeta("session", { token: token(), who: who() });
    const [cats, ui] = await Promise.all([
      fresh("categories", () => E.categories()).catch(() => ({ value: null })),
      fresh("ui-config", () => E.uiConfig()).catch(() => ({ value: null })),
    ]);
    categories = cats.value || [];
    uiConfig = ui.value;
    await load();
    checkClock().then(() => send());
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") send().then(load);
    }, POLL_MS);
    return () => {
      clearInterval(timer);
      me = null;
      route = null;
      if (map) map.destroy();
      map = null;
    };
  },
});
