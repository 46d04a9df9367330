// The operator dashboard: overview (bins, live weigh-ins, alerts, devices), pickup
// board, charts and household lookup. Data comes from the API; changes arrive on the
// live stream and are merged into `state`, then the affected parts are re-rendered.
import { E } from "./endpoints.js";
import { initShell, setLiveState } from "./shell.js";
import { lang, onLangChange, t } from "./i18n.js";
import { binPlot, lineChart, stackedDayBars, PALETTE } from "./charts.js";
import {
  $, $$, h, fill, rupiah, kg, pct, num, clock, dateTime, relative, localDay, fillClass,
  toast, errorText, newKey, parseKgToGrams, toDate, dayStartUtc,
} from "./util.js";

const DL_ACK_KEY = "salinmas.deadletters.ack";

const FEED_MAX = 50;

const state = {
  bins: new Map(),
  weighins: [],
  devices: new Map(),
  alerts: new Map(),
  pickups: new Map(),
  collectors: [],
  categories: new Map(),
  households: new Map(),
  deadLetters: { total: 0, by_reason: {} },
  today: { day: "", net_g: 0, amount_rp: 0 },
};

// ------------------------------------------------------------------ lookups

function categoryName(code) {
  const c = state.categories.get(code);
  if (!c) return code || "–";
  return lang() === "en" ? c.name_en : c.name_id;
}

function binName(id) {
  const b = state.bins.get(id);
  return (b && b.name) || id;
}

function collectorName(id) {
  const c = state.collectors.find((x) => x.id === id);
  return c ? c.display_name || c.username : `#${id}`;
}

/** Households seen in the feed and on pickups, fetched once each. */
function householdOf(id) {
  if (!state.households.has(id)) state.households.set(id, E.household(id).catch(() => null));
  return state.households.get(id);
}

async function householdLabel(id) {
  if (id == null) return null;
  const hh = await householdOf(id);
  return hh ? `${hh.member_no} · ${hh.name}` : `#${id}`;
}

function fillHouseholdCell(cell, id, fallback) {
  if (id == null) {
    cell.textContent = fallback;
    return;
  }
  cell.textContent = `#${id}`;
  householdLabel(id).then((label) => (cell.textContent = label));
}

/** Name on the first line, member number under it. */
function householdLines(memberNo, name) {
  return [h("span", { text: name || memberNo }), h("div", { class: "small muted", text: memberNo })];
}

// ------------------------------------------------------------------ overview

function renderKpis() {
  const bins = [...state.bins.values()];
  const full = bins.filter((b) => b.fill_pct != null && b.fill_pct >= (b.threshold_pct ?? 80)).length;
  $("#kpi-bins-full").textContent = `${full} / ${bins.length}`;
  const devices = [...state.devices.values()].filter((d) => !d.revoked);
  $("#kpi-devices").textContent = `${devices.filter((d) => d.online).length} / ${devices.length}`;
  const open = [...state.pickups.values()].filter((p) => p.status === "open" || p.status === "assigned").length;
  $("#kpi-pickups").textContent = String(open);
  $("#kpi-kg").textContent = kg(state.today.net_g, 1);
  $("#kpi-rp").textContent = rupiah(state.today.amount_rp);
}

function renderBins() {
  const bins = [...state.bins.values()].filter((b) => b.active !== false);
  fill($("#bin-plot"), binPlot(bins, { onSelect: (b) => showBinChart(b.bin_id) }));
  const list = $("#bin-list");
  if (!bins.length) {
    fill(list, h("li", { class: "empty", text: t("bins.none") }));
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
          h("br"), h("span", { class: "muted small", text: [categoryName(b.category_code), b.state_at ? relative(b.state_at) : ""].filter(Boolean).join(" · ") })),
        h("span", { class: "fillbar", role: "img", "aria-label": `${t("bins.fill")} ${pct(b.fill_pct)}` }, h("span", { style: `width:${Math.min(100, b.fill_pct || 0)}%` })),
        h("span", { class: "num", text: pct(b.fill_pct) }),
      ),
    ),
  );
}

function weighinRow(w, flash) {
  const hhCell = h("td");
  if (w.member_no) fill(hhCell, householdLines(w.member_no, w.household_name));
  else if (w.household_id != null) {
    hhCell.textContent = `#${w.household_id}`;
    householdOf(w.household_id).then((hh) => hh && fill(hhCell, householdLines(hh.member_no, hh.name)));
  } else hhCell.textContent = t("feed.unassigned");
  if (w.household_id == null) hhCell.classList.add("muted");
  return h(
    "tr",
    { "data-weighin": w.id, class: flash ? "flash" : "" },
    h("td", { class: "num", text: clock(w.effective_at) }),
    h("td", { class: "nowrap", text: w.device_id }),
    hhCell,
    h("td", { text: categoryName(w.category_code) }),
    h("td", { class: "num", text: kg(w.net_g) }),
    h("td", { class: "num", text: rupiah(w.amount_rp) }),
  );
}

function renderFeed() {
  const body = $("#feed tbody");
  fill(body, state.weighins.map((w) => weighinRow(w, false)));
  $("#feed-empty").hidden = state.weighins.length > 0;
}

/** A device that just sent data is online, whatever the registry said a moment ago. */
function sawDevice(deviceId, at) {
  const d = deviceId && state.devices.get(deviceId);
  if (!d || (d.online && d.last_seen === at)) return;
  state.devices.set(deviceId, { ...d, online: true, last_seen: at || new Date().toISOString() });
  renderDevices();
  renderKpis();
}

function addWeighin(w) {
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

function alertText(a) {
  const kind = t(`alerts.kind.${a.kind}`);
  const subject = state.bins.has(a.subject) ? binName(a.subject) : a.subject;
  return { kind, subject };
}

function renderAlerts() {
  const list = $("#alerts");
  const active = [...state.alerts.values()].filter((a) => !a.cleared_at);
  active.sort((a, b) => (!!a.acknowledged_at - !!b.acknowledged_at) || toDate(b.raised_at) - toDate(a.raised_at));
  const items = active.map((a) => {
    const { kind, subject } = alertText(a);
    const sev = a.kind === "bin_full" ? "warn" : "bad";
    return h(
      "li",
      { class: `alert-item${a.acknowledged_at ? " acked" : ""}`, "data-alert": a.id, "data-kind": a.kind, "data-subject": a.subject },
      h("div", { class: "what" },
        h("span", { class: `badge ${sev}`, text: kind }), " ", h("strong", { text: subject }),
        h("div", { class: "small muted", text: `${a.message} · ${relative(a.raised_at)}` }),
        a.acknowledged_at ? h("div", { class: "small muted", text: t("alerts.acked", { who: a.acknowledged_by || "" }) }) : null),
      a.acknowledged_at ? null : h("button", { type: "button", class: "small secondary", onclick: () => ackAlert(a.id), text: t("alerts.ack"), "aria-label": `${t("alerts.ack")}: ${kind} ${subject}` }),
    );
  });
  if (state.deadLetters.total > 0) {
    const reasons = Object.entries(state.deadLetters.by_reason).map(([r, n]) => `${r}: ${n}`).join(", ");
    items.push(h("li", { class: "alert-item", "data-kind": "dead_letter" },
      h("div", { class: "what" }, h("span", { class: "badge bad", text: t("alerts.kind.dead_letter") }), " ",
        h("strong", { text: String(state.deadLetters.total) }), h("div", { class: "small muted", text: reasons })),
      h("button", { type: "button", class: "small secondary", onclick: ackDeadLetters, text: t("alerts.ack"), "aria-label": `${t("alerts.ack")}: ${t("alerts.kind.dead_letter")}` })));
  }
  fill(list, items.length ? items : h("li", { class: "empty", text: t("alerts.none") }));
}

async function ackAlert(id) {
  try {
    const a = await E.ackAlert(id);
    state.alerts.set(a.id, a);
    renderAlerts();
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

/** Dead letters have no alert row of their own: acknowledging hides those seen so far. */
function ackDeadLetters() {
  localStorage.setItem(DL_ACK_KEY, new Date().toISOString());
  state.deadLetters = { total: 0, by_reason: {} };
  renderAlerts();
}

function renderDevices() {
  const list = $("#devices");
  const devices = [...state.devices.values()].sort((a, b) => (a.online - b.online) || a.device_id.localeCompare(b.device_id));
  fill(
    list,
    devices.length
      ? devices.map((d) => {
          const status = d.revoked ? "revoked" : d.online ? "online" : "offline";
          const cls = d.revoked ? "off" : d.online ? "ok" : "bad";
          const extra = [t(`devices.kind.${d.kind}`), d.sw_version ? `v${d.sw_version}` : null,
            d.outbox_depth ? `${t("devices.outbox")} ${d.outbox_depth}` : null,
            d.last_seen ? `${t("devices.lastseen")} ${relative(d.last_seen)}` : null].filter(Boolean).join(" · ");
          return h("li", { "data-device": d.device_id, "data-online": String(!!d.online) },
            h("div", { class: "alert-item" }, h("strong", { text: d.name || d.device_id }), h("span", { class: `badge ${cls}`, text: t(`devices.${status}`) })),
            h("div", { class: "small muted", text: extra }));
        })
      : h("li", { class: "empty", text: t("devices.none") }),
  );
}

// ------------------------------------------------------------------ pickups

function pickupTitle(p) {
  if (p.bin_id) return binName(p.bin_id);
  return p.household_name ? `${p.member_no || ""} · ${p.household_name}` : null;
}

function pickupCard(p) {
  const overdue = (p.status === "open" || p.status === "assigned") && p.due_at && toDate(p.due_at) < new Date();
  const titleEl = h("span");
  const title = pickupTitle(p);
  if (title) titleEl.textContent = title;
  else fillHouseholdCell(titleEl, p.household_id, "–");
  const meta = [
    t(`pickups.kind.${p.kind}`),
    p.category_code ? categoryName(p.category_code) : null,
    p.fill_pct_at_open != null ? t("pickups.fill_at_open", { pct: pct(p.fill_pct_at_open) }) : null,
  ].filter(Boolean).join(" · ");
  const card = h("article", { class: `pickup${overdue ? " overdue" : ""}`, "data-pickup": p.id, "data-status": p.status, "data-bin": p.bin_id || false, "aria-label": `${t(`pickups.kind.${p.kind}`)} ${title || ""}` },
    h("div", { class: "title" }, titleEl, overdue ? h("span", { class: "badge bad", text: t("pickups.overdue") }) : null),
    h("div", { class: "small muted", text: meta }),
    p.due_at && p.status !== "done" ? h("div", { class: "small", text: t("pickups.due", { when: `${dateTime(p.due_at)} (${relative(p.due_at)})` }) }) : null,
    p.address ? h("div", { class: "small", text: p.address }) : null,
    p.note ? h("div", { class: "small muted", text: `“${p.note}”` }) : null,
  );
  const actions = h("div", { class: "actions" });
  if (p.status === "open" || p.status === "assigned") {
    if (p.status === "assigned") actions.append(h("div", { class: "small", text: t("pickups.assigned_to", { name: collectorName(p.collector_id) }) }));
    const sel = h("select", { id: `assign-${p.id}`, "aria-label": t("pickups.collector") },
      h("option", { value: "", text: t("pickups.choose") }),
      state.collectors.map((c) => h("option", { value: c.id, text: c.display_name || c.username, selected: c.id === p.collector_id })));
    actions.append(h("div", { class: "row" }, sel,
      h("button", { type: "button", class: "small", text: t("pickups.assign"), onclick: () => assign(p.id, sel.value) })));
    const w = h("input", { id: `weight-${p.id}`, inputmode: "decimal", placeholder: "kg", "aria-label": t("pickups.weight") });
    actions.append(h("div", { class: "row", style: "margin-top:.4rem" }, w,
      h("button", { type: "button", class: "small secondary", text: t("pickups.complete"), onclick: () => complete(p.id, w.value) })));
  } else if (p.status === "done") {
    actions.append(h("div", { class: "small", text: t("pickups.completed", { when: clock(p.completed_at), kg: kg(p.collected_g) }) }));
  }
  card.append(actions);
  return card;
}

function renderPickups() {
  const all = [...state.pickups.values()];
  const byDue = (a, b) => (a.due_at ? toDate(a.due_at).getTime() : Infinity) - (b.due_at ? toDate(b.due_at).getTime() : Infinity) || b.priority - a.priority || a.id - b.id;
  const today = localDay(new Date());
  const cols = {
    open: all.filter((p) => p.status === "open").sort(byDue),
    assigned: all.filter((p) => p.status === "assigned").sort(byDue),
    done: all.filter((p) => p.status === "done" && localDay(p.completed_at) === today).sort((a, b) => toDate(b.completed_at) - toDate(a.completed_at)),
  };
  for (const [name, rows] of Object.entries(cols)) {
    $(`#count-${name}`).textContent = String(rows.length);
    fill($(`#pickups-${name}`), rows.length ? rows.map(pickupCard) : h("p", { class: "empty", text: t("pickups.none") }));
  }
  renderKpis();
}

function upsertPickup(p) {
  state.pickups.set(p.id, p);
  renderPickups();
}

async function assign(id, collectorId) {
  if (!collectorId) {
    toast(t("pickups.choose"), "bad");
    return;
  }
  try {
    upsertPickup(await E.assignPickup(id, Number(collectorId)));
    toast(t("pickups.assigned_ok"));
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

async function complete(id, weightText) {
  const grams = weightText.trim() === "" ? null : parseKgToGrams(weightText);
  if (weightText.trim() !== "" && grams === null) {
    toast(t("pickups.weight_invalid"), "bad");
    return;
  }
  try {
    upsertPickup(await E.completePickup(id, grams));
    toast(t("pickups.completed_ok"));
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

// ------------------------------------------------------------------ charts

async function showBinChart(binId) {
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

async function showDailyCharts() {
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

function renderBinSelect() {
  const sel = $("#chart-bin");
  const current = sel.value;
  const bins = [...state.bins.values()].sort((a, b) => (a.name || a.bin_id).localeCompare(b.name || b.bin_id));
  fill(sel, bins.map((b) => h("option", { value: b.bin_id, text: b.name || b.bin_id })));
  if (current) sel.value = current;
}

// ------------------------------------------------------------------ households

async function searchHouseholds(q) {
  const list = $("#hh-results");
  try {
    const rows = await E.households(q);
    fill(list, rows.length
      ? rows.map((hh) => h("li", {}, h("button", { type: "button", class: "secondary", style: "width:100%;text-align:left", onclick: () => showHousehold(hh.id), text: `${hh.member_no} · ${hh.name}` })))
      : h("li", { class: "empty", text: t("hh.none") }));
  } catch (err) {
    fill(list, h("li", { class: "form-error", text: errorText(err) }));
  }
}

function payoutItem(p, onChange) {
  const act = (fn) => async () => {
    try {
      await fn();
      toast(t("hh.payout.ok"));
      onChange();
    } catch (err) {
      toast(errorText(err), "bad");
    }
  };
  const buttons = [];
  if (p.status === "requested") {
    buttons.push(h("button", { type: "button", class: "small", text: t("hh.payout.approve"), onclick: act(() => E.approvePayout(p.id, newKey())) }));
    buttons.push(h("button", { type: "button", class: "small secondary", text: t("hh.payout.reject"), onclick: act(() => E.rejectPayout(p.id, "rejected by operator", newKey())) }));
  }
  if (p.status === "approved") buttons.push(h("button", { type: "button", class: "small", text: t("hh.payout.pay"), onclick: act(() => E.payPayout(p.id, newKey())) }));
  return h("li", { "data-payout": p.id, "data-status": p.status, class: "alert-item" },
    h("div", { class: "what" }, h("strong", { text: rupiah(p.amount_rp) }), " ", h("span", { class: "badge", text: t(`hh.payout.status.${p.status}`) }),
      h("div", { class: "small muted", text: `${dateTime(p.requested_at)}${p.household_id ? "" : ""}` })),
    h("div", { class: "row" }, buttons));
}

async function showHousehold(id) {
  const box = $("#hh-detail");
  box.hidden = false;
  try {
    const [hh, bal, stmt, payouts] = await Promise.all([E.household(id), E.balance(id), E.statement(id), E.payouts(id)]);
    const amount = h("input", { id: "payout-amount", inputmode: "numeric", autocomplete: "off" });
    const form = h("form", { class: "row", onsubmit: async (ev) => {
      ev.preventDefault();
      const n = Number(String(amount.value).replace(/\D/g, ""));
      if (!(n > 0)) return;
      try {
        await E.requestPayout(id, n, form.dataset.key);
        form.dataset.key = newKey();
        toast(t("hh.payout.ok"));
        showHousehold(id);
      } catch (err) {
        toast(errorText(err), "bad");
      }
    } }, h("div", {}, h("label", { for: "payout-amount", text: t("hh.payout.amount") }), amount), h("button", { type: "submit", text: t("hh.payout.request") }));
    form.dataset.key = newKey();
    fill(box,
      h("header", {}, h("h2", { text: `${hh.member_no} · ${hh.name}` })),
      h("p", { class: "small muted", text: [hh.address, hh.phone].filter(Boolean).join(" · ") }),
      h("div", { class: "kpis", style: "grid-template-columns:repeat(2,minmax(0,1fr))" },
        h("div", { class: "kpi" }, h("div", { class: "label", text: t("hh.balance") }), h("div", { class: "value", id: "hh-balance", text: rupiah(bal.balance_rp) })),
        h("div", { class: "kpi" }, h("div", { class: "label", text: t("hh.available") }), h("div", { class: "value", text: rupiah(bal.available_rp) }))),
      h("h3", { style: "margin-top:1rem", text: t("hh.payouts") }),
      h("ul", { class: "plain" }, payouts.length ? payouts.map((p) => payoutItem(p, () => showHousehold(id))) : h("li", { class: "empty", text: t("hh.payout.none") })),
      form,
      h("h3", { style: "margin-top:1rem", text: t("hh.statement") }),
      statementTable(stmt.lines));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

function statementTable(lines) {
  if (!lines.length) return h("p", { class: "empty", text: t("stmt.none") });
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["stmt.date", "stmt.desc", "stmt.amount", "stmt.balance"].map((k, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: t(k) })))),
    h("tbody", {}, [...lines].reverse().map((l) => h("tr", {},
      h("td", { text: dateTime(l.at) }),
      h("td", {}, t(`stmt.kind.${l.kind}`), l.weighin ? h("div", { class: "small muted", text: `${categoryName(l.weighin.category_code)} · ${kg(l.weighin.net_g)}` }) : null),
      h("td", { class: "num", text: rupiah(l.amount_rp) }),
      h("td", { class: "num", text: rupiah(l.balance_rp) }))))));
}

async function renderPendingPayouts() {
  const list = $("#pending-payouts");
  try {
    const [requested, approved] = await Promise.all([E.payoutsByStatus("requested"), E.payoutsByStatus("approved")]);
    const rows = [...requested, ...approved];
    fill(list, rows.length ? rows.map((p) => {
      const li = payoutItem(p, renderPendingPayouts);
      const who = h("div", { class: "small" });
      fillHouseholdCell(who, p.household_id, "");
      li.querySelector(".what").append(who);
      return li;
    }) : h("li", { class: "empty", text: t("hh.payout.none") }));
  } catch (err) {
    fill(list, h("li", { class: "form-error", text: errorText(err) }));
  }
}

// ------------------------------------------------------------------ routing

function route() {
  const view = (location.hash || "#overview").slice(1);
  const known = $$("[data-view]").map((el) => el.dataset.view);
  const current = known.includes(view) ? view : "overview";
  for (const el of $$("[data-view]")) el.hidden = el.dataset.view !== current;
  for (const a of $$("nav.tabs a")) {
    if (a.getAttribute("href") === `#${current}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (current === "charts") {
    showBinChart();
    showDailyCharts();
  }
  if (current === "households") renderPendingPayouts();
}

// ------------------------------------------------------------------ start

async function loadAll() {
  const today = localDay(new Date());
  const results = await Promise.allSettled([
    E.categories(), E.bins(), E.weighins(), E.devices(), E.alerts(), E.pickups({ status: ["open", "assigned", "done"] }),
    E.collectors(), E.deadLetterCounts(localStorage.getItem(DL_ACK_KEY) || undefined), E.categoryDays(dayStartUtc(today)),
  ]);
  const [cats, bins, weighins, devices, alerts, pickups, collectors, dl, daily] = results.map((r) => (r.status === "fulfilled" ? r.value : null));
  for (const r of results) if (r.status === "rejected") console.warn("load failed:", r.reason && r.reason.message);
  state.categories = new Map((cats || []).map((c) => [c.code, c]));
  state.bins = new Map((bins || []).map((b) => [b.bin_id, b]));
  state.weighins = (weighins || []).slice(0, FEED_MAX);
  state.devices = new Map((devices || []).map((d) => [d.device_id, d]));
  state.alerts = new Map((alerts || []).map((a) => [a.id, a]));
  state.pickups = new Map((pickups || []).map((p) => [p.id, p]));
  state.collectors = collectors || [];
  state.deadLetters = dl || { total: 0, by_reason: {} };
  state.today = { day: today, net_g: 0, amount_rp: 0 };
  for (const r of daily || []) if (r.day === today) {
    state.today.net_g += r.net_g;
    state.today.amount_rp += r.amount_rp;
  }
  renderAll();
}

function renderAll() {
  renderKpis();
  renderBins();
  renderFeed();
  renderAlerts();
  renderDevices();
  renderPickups();
  renderBinSelect();
}

function mergeBin(id, patch) {
  state.bins.set(id, { ...(state.bins.get(id) || { bin_id: id }), ...patch });
  renderBins();
  renderKpis();
}

async function pickupEvent(ev) {
  const prev = state.pickups.get(ev.id);
  let full = { ...(prev || {}), ...ev };
  if (!prev) {
    // the event is a summary; fetch the whole pickup once
    try {
      full = await E.pickup(ev.id);
    } catch {
      /* keep the summary */
    }
  }
  upsertPickup(full);
}

function startLive() {
  let wasOpen = false;
  return E.stream(
    {
      weighin: (w) => addWeighin(w),
      fill: (f) => (sawDevice(f.device_id, f.device_time), mergeBin(f.bin_id, {
        fill_pct: f.fill_pct, fault: f.fault ?? null, lid_open: f.lid_open ?? null,
        tilted: f.tilted ?? null, state_at: f.device_time || new Date().toISOString(),
      })),
      bin: (b) => mergeBin(b.bin_id, b),
      alert: (a) => {
        // one uncleared alert per (kind, subject): a new one means the older has cleared
        for (const [id, old] of state.alerts) if (id !== a.id && old.kind === a.kind && old.subject === a.subject) state.alerts.delete(id);
        state.alerts.set(a.id, { ...(state.alerts.get(a.id) || {}), ...a });
        renderAlerts();
      },
      device: (d) => {
        const prev = state.devices.get(d.device_id) || { device_id: d.device_id, kind: "" };
        const patch = { online: d.online, last_seen: d.at || d.device_time || new Date().toISOString() };
        if (d.sw_version) patch.sw_version = d.sw_version;
        if (d.outbox_depth != null) patch.outbox_depth = d.outbox_depth;
        state.devices.set(d.device_id, { ...prev, ...patch });
        renderDevices();
        renderKpis();
      },
      pickup: (p) => pickupEvent(p),
      payout: () => {
        if (!$("#view-households").hidden) renderPendingPayouts();
      },
      dead_letter: (d) => {
        state.deadLetters.total += 1;
        state.deadLetters.by_reason[d.reason] = (state.deadLetters.by_reason[d.reason] || 0) + 1;
        renderAlerts();
      },
    },
    (st) => {
      setLiveState(st);
      // after a reconnect, reload so nothing missed while away is lost
      if (st === "open" && wasOpen) loadAll();
      if (st === "open") wasOpen = true;
    },
  );
}

/** Alerts clear and bins change state without a stream event for each: re-read them now and then. */
async function refreshSlow() {
  const [alerts, bins, devices] = await Promise.allSettled([E.alerts(), E.bins(), E.devices()]);
  if (alerts.status === "fulfilled") state.alerts = new Map(alerts.value.map((a) => [a.id, a]));
  if (bins.status === "fulfilled") state.bins = new Map(bins.value.map((b) => [b.bin_id, b]));
  if (devices.status === "fulfilled") state.devices = new Map(devices.value.map((d) => [d.device_id, d]));
  renderAlerts();
  renderBins();
  renderDevices();
  renderKpis();
}

initShell({
  roles: ["admin", "operator"],
  login: (form) => E.login(form.get("username"), form.get("password")),
  start: async () => {
    window.addEventListener("hashchange", route);
    await loadAll();
    route();
    const live = startLive();
    const tick = setInterval(refreshSlow, 30000);
    return () => {
      live.close();
      clearInterval(tick);
      setLiveState("off");
      window.removeEventListener("hashchange", route);
    };
  },
});

$("#chart-bin").addEventListener("change", () => showBinChart());
$("#chart-fill-period").addEventListener("change", () => showBinChart());
$("#chart-day-period").addEventListener("change", () => showDailyCharts());
$("#hh-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  searchHouseholds($("#hh-q").value.trim());
});

onLangChange(() => {
  renderAll();
  route();
});
