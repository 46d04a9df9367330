// The operator dashboard: overview (bins, live weigh-ins, alerts, devices), pickup
// board, charts and household lookup. Data comes from the API; changes arrive on the
// live stream and are merged into `state`, then the affected parts are re-rendered.
import { $, $$, localDay } from "./util.js";
import { onLangChange } from "./i18n.js";
import { E } from "./endpoints.js";
import { initShell, setLiveState, syncNav } from "./shell.js";
import { DL_ACK_KEY, FEED_MAX, state } from "./operator/state.js";
import { renderKpis, renderBins, renderMap, focusBins, renderFeed, sawDevice, addWeighin, renderAlerts, renderDevices, patchDevice } from "./operator/overview.js";
import { allBinsLoaded, bindSites, loadBins, loadDevices, loadOverview, overviewSoon, renderSites } from "./operator/sites.js";
import { loadPickups, pickupsSoon, renderPickups, upsertPickup } from "./operator/pickups.js";
import { bindRoutes, routesMayHaveChanged, showRoutes } from "./operator/routes.js";
import { showBinChart, showDailyCharts, renderBinSelect, initReports, downloadReport, bindReportDates, watchChartSizes } from "./operator/trends.js";
import { searchHouseholds, searchWhileTyping, showHouseholdList, renderPendingPayouts, renderReceivables } from "./operator/households.js";
import { showStock } from "./operator/stock.js";
import { showCases } from "./operator/cases.js";
import { bindWeighins, showWeighinList } from "./operator/weighins.js";
import { PAGE_ROLES, applyRole, firstView, opens, seesOverview } from "./operator/views.js";

/** How long after the stream opens to re-read (the API's hub baselines within a poll). */
const SETTLE_MS = 2500;
const RECONCILE_MS = 30000;

// ------------------------------------------------------------------ routing

function route(ev) {
  const view = (location.hash || `#${firstView()}`).slice(1);
  const known = $$("[data-view]").map((el) => el.dataset.view).filter(opens);
  const current = known.includes(view) ? view : firstView();
  for (const el of $$("[data-view]")) el.hidden = el.dataset.view !== current;
  for (const a of $$("nav.tabs a")) {
    if (a.getAttribute("href") === `#${current}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  syncNav();
  if (current === "charts") {
    showBinChart();
    showDailyCharts();
    initReports();
  }
  if (current === "households") {
    renderPendingPayouts();
    renderReceivables();
    showHouseholdList();
  }
  if (current === "weighins") showWeighinList();
  if (current === "pickups") showRoutes();
  if (current === "stock") showStock();
  if (current === "cases") showCases();
  // a view changed by the operator: move focus to its heading (screen readers announce it)
  if (ev && ev.type === "hashchange") {
    const heading = $(`[data-view="${current}"] h1`);
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

// ------------------------------------------------------------------ start

async function loadAll() {
  // today's kg and rupiah come with the overview's figures (./operator/sites.js)
  state.today = { day: localDay(new Date()), net_g: 0, amount_rp: 0 };
  const results = await Promise.allSettled([
    E.categories(), loadOverview(), E.weighins(), loadDevices(), E.alerts(), loadPickups(),
    E.collectors(), E.deadLetterCounts(localStorage.getItem(DL_ACK_KEY) || undefined),
    E.uiConfig(),
  ]);
  const [cats, , weighins, , alerts, , collectors, dl, config] = results.map((r) => (r.status === "fulfilled" ? r.value : null));
  state.config = config;
  for (const r of results) if (r.status === "rejected") console.warn("load failed:", r.reason && r.reason.message);
  state.categories = new Map((cats || []).map((c) => [c.code, c]));
  try {
    await loadBins(); // every bin while they are few, else a page of the picked site's
  } catch (err) {
    console.warn("load failed:", err.message);
  }
  state.weighins = (weighins || []).slice(0, FEED_MAX);
  state.alerts = new Map((alerts || []).map((a) => [a.id, a]));
  state.collectors = collectors || [];
  state.deadLetters = dl || { total: 0, by_reason: {} };
  renderAll();
}

function renderAll() {
  renderKpis();
  renderSites();
  renderBins();
  renderFeed();
  renderAlerts();
  renderDevices();
  renderPickups();
  renderBinSelect();
}

/** The figures per site changed (a live event): re-read them soon, then redraw. */
function figuresChanged() {
  overviewSoon(() => {
    renderKpis();
    renderSites();
    renderMap();
  });
}

/** A bin's live state: shown if its bin is loaded (or every bin is); counted either way. */
function mergeBin(id, patch) {
  if (state.bins.has(id) || allBinsLoaded()) {
    state.bins.set(id, { ...(state.bins.get(id) || { bin_id: id }), ...patch });
    renderBins();
  } else if (state.area && state.area.bins.has(id)) {
    state.area.bins.set(id, { ...state.area.bins.get(id), ...patch }); // on the map only
    renderMap();
  }
  figuresChanged();
}

/** The operator picked a site (areas table, map): its bins are listed and drawn. */
async function pickSite(siteId) {
  state.site = siteId;
  try {
    await Promise.all([loadBins(), loadDevices().then(renderDevices)]);
  } catch (err) {
    console.warn("load failed:", err.message);
  }
  renderSites();
  renderBins();
  renderBinSelect();
  if (siteId != null) focusBins();
  $("#h-bins").scrollIntoView({ block: "nearest" });
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
  pickupsSoon();
  routesMayHaveChanged();
  figuresChanged();
}

/**
 * After the stream (re)opens, and every RECONCILE_MS: re-read what the stream may have
 * missed (while away; before the API's hub took its baseline; alert clears, which are
 * not streamed). New weigh-ins are added to the feed like live ones.
 */
async function reconcile() {
  // (the pages shown are read again at their offsets: bins and pickups from the start)
  const [weighins, alerts, figures, devices, board, dl] = await Promise.allSettled([
    E.weighins(), E.alerts(), loadOverview().then(() => loadBins(state.binPage ? state.binPage.offset : 0)),
    loadDevices(state.devicePage ? state.devicePage.offset : 0), loadPickups(),
    E.deadLetterCounts(localStorage.getItem(DL_ACK_KEY) || undefined),
  ]);
  if (weighins.status === "fulfilled") {
    const shown = Math.max(0, ...state.weighins.map((w) => w.id));
    for (const w of [...weighins.value].reverse()) if (w.id > shown) addWeighin(w);
  }
  if (alerts.status === "fulfilled") state.alerts = new Map(alerts.value.map((a) => [a.id, a]));
  if (figures.status === "rejected") console.warn("load failed:", figures.reason && figures.reason.message);
  if (devices.status === "rejected") console.warn("load failed:", devices.reason && devices.reason.message);
  if (board.status === "fulfilled") renderPickups();
  if (dl.status === "fulfilled") state.deadLetters = dl.value;
  renderAlerts();
  renderSites();
  renderBins();
  renderDevices();
  renderKpis();
}

function startLive() {
  let settle = null;
  const stream = E.stream(
    {
      weighin: (w) => (addWeighin(w), figuresChanged()),
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
        // shown if loaded (a station on the map, an offline one listed); counted either way
        const patch = { online: d.online, last_seen: d.at || d.device_time || new Date().toISOString() };
        if (d.sw_version) patch.sw_version = d.sw_version;
        if (d.outbox_depth != null) patch.outbox_depth = d.outbox_depth;
        if (patchDevice(d.device_id, patch)) renderDevices();
        figuresChanged();
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
      // once the stream has settled, re-read what it cannot carry (see reconcile)
      if (st === "open") {
        clearTimeout(settle);
        settle = setTimeout(reconcile, SETTLE_MS);
      }
    },
  );
  return {
    close() {
      clearTimeout(settle);
      stream.close();
    },
  };
}

initShell({
  roles: PAGE_ROLES,
  login: (form) => E.login(form.get("username"), form.get("password")),
  start: async (me) => {
    applyRole(me);
    window.addEventListener("hashchange", route);
    if (!seesOverview()) {
      // the counter (a cashier): households and the cash box, read when shown; no
      // overview figures and no live stream of them (so no live/offline pill either)
      $("#live").hidden = true;
      route();
      return () => window.removeEventListener("hashchange", route);
    }
    await loadAll();
    route();
    const live = startLive();
    const tick = setInterval(reconcile, RECONCILE_MS);
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
bindReportDates();
bindRoutes();
bindSites(pickSite);
bindWeighins();
watchChartSizes();
$("#report-weighins").addEventListener("click", () => downloadReport("weighins"));
$("#report-payouts").addEventListener("click", () => downloadReport("payouts"));
$("#hh-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  searchHouseholds($("#hh-q").value.trim());
});
$("#hh-q").addEventListener("input", (ev) => searchWhileTyping(ev.target));

onLangChange(() => {
  renderAll();
  route();
});
