// The overview: KPIs, bins (plot and list), the live weigh-in feed, alerts and devices.
import { $, h, fill, rupiah, kg, num, pct, clock, relative, localDay, fillClass, toast, errorText, toDate, newKey, pager, soon } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { createMap, mapAvailable } from "../map.js";
import { DL_ACK_KEY, FEED_MAX, state, categoryName, binName, householdOf, householdLines } from "./state.js";
import { showBinChart } from "./trends.js";
import { areaCaption, binsCaption, binsShown, loadArea, loadBins, loadDevices, sitePoints } from "./sites.js";

// ------------------------------------------------------------------ overview

/** The KPIs: bins and pickups from the overview's figures (GET /overview, ./sites.js). */
export function renderKpis() {
  const total = state.overview && state.overview.total;
  $("#kpi-bins-full").textContent = total ? `${num(total.bins_full)} / ${num(total.bins)}` : "–";
  $("#kpi-devices").textContent = total ? `${num(total.devices_online)} / ${num(total.devices)}` : "–";
  $("#kpi-pickups").textContent = total ? num(total.pickups_open) : "–";
  $("#kpi-kg").textContent = kg(state.today.net_g, 1);
  $("#kpi-rp").textContent = rupiah(state.today.amount_rp);
}

let binMap = null;
/** From this zoom every point is drawn on its own (no clusters). */
const UNCLUSTER_ZOOM = 16;
/** The visible area is asked for once the map has rested this long after a move. */
const AREA_WAIT_MS = 400;

/** The map's bins and stations: those loaded for the list (fresher: live events patch
 * them), and those of the visible area once zoomed in (./sites.js loadArea). */
function mapPoints() {
  const area = state.area || { bins: new Map(), stations: new Map() };
  return {
    bins: [...new Map([...area.bins, ...state.bins]).values()].filter((b) => b.active !== false),
    stations: [...new Map([...area.stations, ...state.stations]).values()],
  };
}

/** Sites (with several), the loaded bins (coloured by fill, fullest on top) and stations
 * on the overview's map, clustered where they crowd; zoomed in, those of the visible
 * area too (asked for when the map rests). `fit: false` keeps the view. */
export function renderMap({ fit = true } = {}) {
  const box = $("#bin-map");
  if (!box || !mapAvailable()) return;
  if (!binMap) {
    binMap = createMap(box, { config: (state.config && state.config.map) || {}, label: t("bins.map"), unclusterAt: UNCLUSTER_ZOOM });
    const m = binMap.leaflet;
    const areaSoon = soon(AREA_WAIT_MS, async () => {
      if (await loadArea(m.getBounds(), m.getZoom())) renderMap({ fit: false });
    });
    m.on("moveend", areaSoon); // (a zoom ends with a move too)
  }
  const { bins, stations } = mapPoints();
  const sites = sitePoints();
  $("#legend-site").hidden = !sites.length;
  const placed = binMap.update([
    ...sites,
    ...bins.map((b) => ({
      id: b.bin_id, kind: "bin", lat: b.lat, lon: b.lon, className: fillClass(b.fill_pct),
      label: `${b.name || b.bin_id} ${pct(b.fill_pct)}`, priority: 1 + (b.fill_pct ?? -1) / 1000,
      badge: b.fault ? "!" : "",
      title: `${b.name || b.bin_id}: ${b.fill_pct == null ? t("unknown") : pct(b.fill_pct)}${b.fault ? " – " + t("bins.fault") : ""}`,
      popup: () => binPopup(b),
    })),
    ...stations.map((d) => ({
      id: d.device_id, kind: "station", lat: d.lat, lon: d.lon, className: d.online ? "station-on" : "station-off",
      label: d.name || d.device_id, priority: 0, badge: "",
      title: `${t("devices.kind.station")} ${d.name || d.device_id}: ${t(d.online ? "devices.online" : "devices.offline")}`,
      popup: () => stationPopup(d),
    })),
  ], { fit });
  const missing = sites.length + bins.length + stations.length - placed;
  $("#map-missing").textContent = missing > 0 ? t("map.missing", { n: missing }) : "";
  $("#map-area").textContent = areaCaption();
}

/** Zoom the map onto the loaded bins (a site just picked). */
export function focusBins() {
  const pts = [...state.bins.values()].filter((b) => Number.isFinite(b.lat) && Number.isFinite(b.lon)).map((b) => [b.lat, b.lon]);
  if (binMap && pts.length) binMap.leaflet.fitBounds(window.L.latLngBounds(pts), { padding: [36, 36], maxZoom: 17, animate: false });
}

function binPopup(b) {
  return h("div", { class: "popup", "data-bin": b.bin_id },
    h("strong", { text: b.name || b.bin_id }),
    h("div", { text: `${t("bins.fill")} ${pct(b.fill_pct)}${b.fault ? " · " + t("bins.fault") : ""}` }),
    h("div", { class: "small muted", text: [categoryName(b.category_code), b.state_at ? relative(b.state_at) : ""].filter(Boolean).join(" · ") }),
    h("button", { type: "button", class: "small secondary", text: t("map.chart"), onclick: () => showBinChart(b.bin_id) }));
}

function stationPopup(d) {
  return h("div", { class: "popup", "data-device": d.device_id },
    h("strong", { text: d.name || d.device_id }),
    h("div", { text: `${t("devices.kind.station")} · ${t(d.online ? "devices.online" : "devices.offline")}` }),
    d.last_seen ? h("div", { class: "small muted", text: `${t("devices.lastseen")} ${relative(d.last_seen)}` }) : null);
}

export function renderBins() {
  const bins = [...state.bins.values()].filter((b) => b.active !== false);
  renderMap();
  const list = $("#bin-list");
  fill($("#bins-of"), binsCaption());
  renderBinPager();
  if (!bins.length) {
    fill(list, binsShown() ? h("li", { class: "empty", text: t("bins.none") }) : []);
    return;
  }
  bins.sort((a, b) => (b.fill_pct ?? -1) - (a.fill_pct ?? -1));
  fill(
    list,
    bins.map((b) =>
      h(
        "li",
        { class: `bin-row ${fillClass(b.fill_pct)}`, "data-bin": b.bin_id, "data-fill": b.fill_pct ?? "" },
        h("span", { class: "name" }, h("strong", { text: b.name || b.bin_id }), " ",
          b.fault ? h("span", { class: "badge bad", text: t("bins.fault") }) : null,
          h("br"), h("span", { class: "muted small", text: [categoryName(b.category_code), b.state_at ? relative(b.state_at) : ""].filter(Boolean).join(" · ") }),
          forecastNote(b)),
        h("span", { class: "fillbar", role: "img", "aria-label": `${t("bins.fill")} ${pct(b.fill_pct)}` }, h("span", { style: `width:${Math.min(100, b.fill_pct || 0)}%` })),
        h("span", { class: "num", text: pct(b.fill_pct) }),
      ),
    ),
  );
}

/** "Forecast full in 3 h" for a bin still below its threshold that is filling up. */
function forecastNote(b) {
  if (!b.forecast_full_at || b.fill_pct == null || b.fill_pct >= (b.threshold_pct ?? 80)) return null;
  return h("div", { class: "small", text: t("pickups.forecast", { when: relative(b.forecast_full_at) }) });
}

export function weighinRow(w, flash) {
  const hhCell = h("td");
  // on a phone the category column gives way: the category shows under the household
  const onPhone = h("div", { class: "small muted phone-only", text: categoryName(w.category_code) });
  const show = (memberNo, name) => fill(hhCell, householdLines(memberNo, name), onPhone);
  if (w.member_no) show(w.member_no, w.household_name);
  else if (w.household_id != null) {
    fill(hhCell, `#${w.household_id}`, onPhone);
    householdOf(w.household_id).then((hh) => hh && show(hh.member_no, hh.name));
  } else if (w.status === "unassigned") {
    fill(hhCell, h("span", { class: "muted", text: t("feed.unassigned") }), onPhone,
      h("button", { type: "button", class: "small secondary", "data-writes": "", text: t("feed.assign"), onclick: () => assignForm(w, hhCell) }));
  } else fill(hhCell, h("span", { class: "muted", text: t("feed.unassigned") }), onPhone);
  return h(
    "tr",
    { "data-weighin": w.id, "data-status": w.status, class: flash ? "flash" : "" },
    h("td", { class: "num", text: clock(w.effective_at) }),
    h("td", { class: "nowrap", text: w.device_id }),
    hhCell,
    h("td", { text: categoryName(w.category_code) }),
    h("td", { class: "num", text: kg(w.net_g) }),
    h("td", { class: "num", text: rupiah(w.amount_rp) }),
  );
}

/** Credit an unassigned weigh-in (unknown card) to a household found by member number. */
function assignForm(w, cell) {
  const key = newKey(); // one key per attempt: a double click cannot credit twice
  const input = h("input", { "aria-label": t("feed.assign.member"), placeholder: t("hh.member"), autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "row", onsubmit: async (ev) => {
    ev.preventDefault();
    const wanted = input.value.trim().toLowerCase();
    try {
      const hh = (await E.households(input.value.trim())).items.find((x) => x.member_no.toLowerCase() === wanted);
      if (!hh) {
        toast(t("feed.assign.notfound"), "bad");
        return;
      }
      const done = await E.assignWeighin(w.id, hh.id, key);
      const merged = { ...w, ...done, member_no: hh.member_no, household_name: hh.name };
      state.weighins = state.weighins.map((x) => (x.id === w.id ? merged : x));
      cell.closest("tr").replaceWith(weighinRow(merged, true));
      toast(t("feed.assign.ok", { member: hh.member_no }));
    } catch (err) {
      toast(errorText(err), "bad");
    }
  } }, input, h("button", { type: "submit", class: "small", text: t("feed.assign") }));
  fill(cell, form);
  input.focus();
}

export function renderFeed() {
  const body = $("#feed tbody");
  fill(body, state.weighins.map((w) => weighinRow(w, false)));
  $("#feed-empty").hidden = state.weighins.length > 0;
}

/** A device loaded (drawn as a station, or listed as offline), or undefined. */
export function deviceById(id) {
  return state.stations.get(id) || ((state.devicePage && state.devicePage.items) || []).find((d) => d.device_id === id);
}

/** A device's live state, where it is shown; true when it is. */
export function patchDevice(id, patch) {
  let shown = false;
  if (state.stations.has(id)) {
    state.stations.set(id, { ...state.stations.get(id), ...patch });
    shown = true;
  }
  if (state.devicePage) {
    state.devicePage = { ...state.devicePage, items: state.devicePage.items.map((d) => (d.device_id === id ? ((shown = true), { ...d, ...patch }) : d)) };
  }
  return shown;
}

/** A device that just sent data is online, whatever the registry said a moment ago. */
export function sawDevice(deviceId, at) {
  const d = deviceId && deviceById(deviceId);
  if (!d || (d.online && d.last_seen === at)) return;
  patchDevice(deviceId, { online: true, last_seen: at || new Date().toISOString() });
  renderDevices();
}

export function addWeighin(w) {
  sawDevice(w.device_id, new Date().toISOString());
  if (state.weighins.some((x) => x.id === w.id)) return;
  state.weighins.unshift(w);
  state.weighins.length = Math.min(state.weighins.length, FEED_MAX);
  const body = $("#feed tbody");
  body.prepend(weighinRow(w, true));
  while (body.children.length > FEED_MAX) body.lastElementChild.remove();
  $("#feed-empty").hidden = true;
  if (localDay(w.effective_at) === state.today.day && w.status === "credited") {
    state.today.net_g += w.net_g;
    state.today.amount_rp += w.amount_rp;
    renderKpis();
  }
}

export function alertText(a) {
  const kind = t(`alerts.kind.${a.kind}`);
  const bin = state.bins.get(a.subject);
  const device = deviceById(a.subject);
  const subject = bin ? binName(a.subject) : (device && device.name) || a.subject;
  // a description in the operator's language where the dashboard knows the facts
  let detail = a.message;
  if (a.kind === "bin_full" && bin && bin.fill_pct != null) detail = t("alerts.msg.bin_full", { pct: pct(bin.fill_pct) });
  else if (a.kind === "sensor_fault" && bin && bin.fault) detail = t("alerts.msg.sensor_fault", { fault: t(`fault.${bin.fault}`) });
  else if (a.kind === "device_offline" && device) detail = t("alerts.msg.device_offline", { when: relative(device.last_seen || a.raised_at) });
  return { kind, subject, detail };
}

export function renderAlerts() {
  const list = $("#alerts");
  const active = [...state.alerts.values()].filter((a) => !a.cleared_at);
  active.sort((a, b) => (!!a.acknowledged_at - !!b.acknowledged_at) || toDate(b.raised_at) - toDate(a.raised_at));
  const items = active.map((a) => {
    const { kind, subject, detail } = alertText(a);
    const sev = a.kind === "bin_full" ? "warn" : "bad";
    return h(
      "li",
      { class: `alert-item${a.acknowledged_at ? " acked" : ""}`, "data-alert": a.id, "data-kind": a.kind, "data-subject": a.subject },
      h("div", { class: "what" },
        h("span", { class: `badge ${sev}`, text: kind }), " ", h("strong", { text: subject }),
        h("div", { class: "small muted", text: `${detail} · ${relative(a.raised_at)}`, title: a.message }),
        a.acknowledged_at ? h("div", { class: "small muted", text: t("alerts.acked", { who: a.acknowledged_by || "" }) }) : null),
      a.acknowledged_at ? null : h("button", { type: "button", class: "small secondary", "data-writes": "", onclick: () => ackAlert(a.id), text: t("alerts.ack"), "aria-label": `${t("alerts.ack")}: ${kind} ${subject}` }),
    );
  });
  if (state.deadLetters.total > 0) {
    const reasons = Object.entries(state.deadLetters.by_reason).map(([r, n]) => `${r}: ${n}`).join(", ");
    items.push(h("li", { class: "alert-item", "data-kind": "dead_letter" },
      h("div", { class: "what" }, h("span", { class: "badge bad", text: t("alerts.kind.dead_letter") }), " ",
        h("strong", { text: String(state.deadLetters.total) }), h("div", { class: "small muted", text: reasons }),
        deadLetterDetails()),
      h("button", { type: "button", class: "small secondary", "data-writes": "", onclick: ackDeadLetters, text: t("alerts.ack"), "aria-label": `${t("alerts.ack")}: ${t("alerts.kind.dead_letter")}` })));
  }
  fill(list, items.length ? items : h("li", { class: "empty", text: t("alerts.none") }));
}

export async function ackAlert(id) {
  try {
    const a = await E.ackAlert(id);
    state.alerts.set(a.id, a);
    renderAlerts();
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

/** The latest refused messages, read when the operator opens the details. */
function deadLetterDetails() {
  const list = h("ul", { class: "plain small" });
  const details = h("details", { ontoggle: async () => {
    if (!details.open) return;
    try {
      const rows = await E.deadLetters({ limit: 10 });
      fill(list, rows.map((d) => h("li", { "data-dead-letter": d.id },
        h("strong", { text: d.reason }), ` · ${relative(d.received_at)}`,
        h("div", { class: "muted", text: d.topic }),
        h("div", { text: d.detail }))));
    } catch (err) {
      fill(list, h("li", { class: "form-error", text: errorText(err) }));
    }
  } }, h("summary", { text: t("deadletters.show") }), list);
  return details;
}

/** Dead letters have no alert row of their own: acknowledging hides those seen so far. */
export function ackDeadLetters() {
  localStorage.setItem(DL_ACK_KEY, new Date().toISOString());
  state.deadLetters = { total: 0, by_reason: {} };
  renderAlerts();
}

/** The devices offline (a page of them, util.js pager); the overview counts them all. */
export function renderDevices() {
  renderMap();
  const list = $("#devices");
  const page = state.devicePage;
  const devices = page ? page.items : [];
  const total = state.overview && state.overview.total;
  fill(
    list,
    devices.length
      ? [...devices.map((d) => {
          const status = d.revoked ? "revoked" : d.online ? "online" : "offline";
          const cls = d.revoked ? "off" : d.online ? "ok" : "bad";
          const extra = [t(`devices.kind.${d.kind}`), d.sw_version ? `v${d.sw_version}` : null,
            d.outbox_depth ? `${t("devices.outbox")} ${d.outbox_depth}` : null,
            d.last_seen ? `${t("devices.lastseen")} ${relative(d.last_seen)}` : null].filter(Boolean).join(" · ");
          return h("li", { "data-device": d.device_id, "data-online": String(!!d.online) },
            h("div", { class: "alert-item" }, h("strong", { text: d.name || d.device_id }), h("span", { class: `badge ${cls}`, text: t(`devices.${status}`) })),
            h("div", { class: "small muted", text: extra }));
        })]
      : h("li", { class: "empty", text: total && total.devices ? t("devices.all_online") : t("devices.none") }),
  );
  fill($("#devices-pager"), page && page.total > page.limit ? pager(page, (o) => loadDevices(o).then(renderDevices)) : []);
}

/** The bin list's pager: the picked site's bins a page at a time. */
export function renderBinPager() {
  const page = state.binPage;
  fill($("#bins-pager"), page && page.total > page.items.length ? pager(page, (o) => loadBins(o).then(renderBins)) : []);
}
