// The overview's figures per kecamatan and per site (GET /api/v1/overview): the KPIs'
// totals, the table of areas (each opens onto its sites) and the sites' points on the map.
// The dashboard loads every bin within reach only while they are few (BIN_LIST_MAX);
// beyond that (a regency: 20,000 bins) it loads the bins of the site the operator picks,
// in the table or on the map, a page at a time, and shows the rest as these aggregates.
// Devices are counted by the overview; only a page of those offline is listed.
import { h, fill, kg, num, cardTable, soon } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { state } from "./state.js";

/** Up to this many bins within reach, the overview lists and draws every one. */
export const BIN_LIST_MAX = 500;
/** Live events ask for fresh figures at most this often. */
const REFRESH_MS = 3000;

/** The table shows this many areas, those needing attention first, until "all". */
const AREAS_SHOWN = 8;

let onPick = () => {};
const openAreas = new Set();
let allAreas = false;

/** What to do when the operator picks a site (show its bins). */
export function bindSites(pick) {
  onPick = pick;
}

/** Read the figures; today's kg and rupiah start from them (live weigh-ins add on). */
export async function loadOverview() {
  const ov = await E.overview();
  state.overview = ov;
  state.today.net_g = ov.total.net_g_today;
  state.today.amount_rp = ov.total.amount_rp_today;
  return ov;
}

/**
 * The query of the bins to load: the picked site's ({site_id}), else every bin within
 * reach ({}) while they are few, else none (null: too many, no site picked yet). A caller
 * with one site has it picked.
 */
export function binsWanted() {
  const ov = state.overview;
  if (state.site != null) return { site_id: state.site };
  if (!ov || ov.total.bins <= BIN_LIST_MAX) return {};
  if (ov.sites.length === 1) state.site = ov.sites[0].site_id;
  return state.site == null ? null : { site_id: state.site };
}

/** A picked site's bins are listed (and drawn) this many at a time (util.js pager). */
export const BIN_PAGE = 100;
/** The overview lists this many devices that are offline, a page at a time. */
export const DEVICE_PAGE = 12;

/**
 * Load a page of the bins `binsWanted()` names into `state.bins` (`state.binPage` for
 * the pager), and the stations to draw beside them: the picked site's, or while the bins
 * are few every one within reach; none while only the sites' figures are shown.
 */
export async function loadBins(offset = 0) {
  const q = binsWanted();
  if (!q) {
    state.binPage = null;
    state.bins = new Map();
    state.stations = new Map();
    return;
  }
  const all = q.site_id === undefined;
  const [page, stations] = await Promise.all([
    E.bins(q, offset, all ? BIN_LIST_MAX : BIN_PAGE),
    E.devices({ ...q, kind: "station", revoked: false }, 0, BIN_LIST_MAX),
  ]);
  state.binPage = page;
  state.bins = new Map(page.items.map((b) => [b.bin_id, b]));
  state.stations = new Map(stations.items.map((d) => [d.device_id, d]));
}

/** A page of the devices offline (of the picked site, if any) for the overview's list. */
export async function loadDevices(offset = 0) {
  const q = { online: false, revoked: false, ...(state.site != null ? { site_id: state.site } : {}) };
  state.devicePage = await E.devices(q, offset, DEVICE_PAGE);
}

/** True when the bins in `state.bins` are every bin within reach. */
export function allBinsLoaded() {
  const q = binsWanted();
  return q !== null && q.site_id === undefined;
}

/** True when the bins in `state.bins` are those of the overview: all, or a site's. */
export function binsShown() {
  return binsWanted() !== null;
}

/** From this zoom the map asks for the bins and stations of its visible area. */
export const AREA_ZOOM = 14;
/** The most bins (and stations) of the visible area drawn at once ("zoom in" beyond). */
export const AREA_PAGE = 300;

let areaSeq = 0;
/**
 * The bins and stations inside the map's visible area (Leaflet `bounds`) into
 * `state.area`, one page of each (GET /bins and /devices with `bbox`); none below
 * AREA_ZOOM or while every bin is loaded anyway. False when a later call overtook it.
 */
export async function loadArea(bounds, zoom) {
  const seq = ++areaSeq;
  if (zoom < AREA_ZOOM || allBinsLoaded()) {
    state.area = null;
    return true;
  }
  const deg = (x, lim) => Math.max(-lim, Math.min(lim, x)).toFixed(5);
  const bbox = [deg(bounds.getSouth(), 90), deg(bounds.getWest(), 180), deg(bounds.getNorth(), 90), deg(bounds.getEast(), 180)].join(",");
  const [bins, stations] = await Promise.all([
    E.bins({ bbox }, 0, AREA_PAGE),
    E.devices({ bbox, kind: "station", revoked: false }, 0, AREA_PAGE),
  ]);
  if (seq !== areaSeq) return false;
  state.area = {
    bbox, page: bins,
    bins: new Map(bins.items.map((b) => [b.bin_id, b])),
    stations: new Map(stations.items.map((d) => [d.device_id, d])),
  };
  return true;
}

/** Under the map, while it shows its visible area: how many bins are there, and to zoom
 * in when more are there than one page draws. */
export function areaCaption() {
  const page = state.area && state.area.page;
  if (!page) return "";
  const more = page.total_exact === false || page.total > page.items.length;
  return more
    ? t("map.zoom_in", { n: num(page.total) + (page.total_exact === false ? "+" : ""), shown: num(page.items.length) })
    : t("map.area", { n: num(page.total) });
}

/** Fresh figures soon (after a live event), at most every REFRESH_MS; then `render()`. */
export const overviewSoon = soon(REFRESH_MS, async (render) => {
  await loadOverview();
  render();
});

function siteName(id) {
  const s = state.overview && state.overview.sites.find((x) => x.site_id === id);
  return s ? s.name : `#${id}`;
}

/** Above the bin list: whose bins these are, or that a site must be picked first. */
export function binsCaption() {
  const ov = state.overview;
  if (!ov || binsWanted() === null) return ov ? [t("bins.pick", { n: num(ov.total.bins) })] : [];
  if (state.site == null) return [];
  return [t("bins.of", { site: siteName(state.site) }), " ",
    ov.total.bins <= BIN_LIST_MAX && ov.sites.length > 1
      ? h("button", { type: "button", class: "small secondary", text: t("bins.all"), onclick: () => onPick(null) }) : null];
}

/** A site's colour on the map: by the share of its bins that are full. */
export function siteClass(s) {
  if (!s.bins) return "fill-none";
  if (!s.bins_full) return "fill-0";
  return s.bins_full * 4 < s.bins ? "fill-2" : "fill-3";
}

/** The sites as map points (when there are several), each with its figures. */
export function sitePoints() {
  const sites = (state.overview && state.overview.sites) || [];
  if (sites.length < 2) return [];
  return sites.map((s) => ({
    id: `site:${s.site_id}`, kind: "site", lat: s.lat, lon: s.lon, className: `site ${siteClass(s)}`,
    label: `${s.name} ${s.bins_full}/${s.bins}`, priority: 2 + (s.bins ? s.bins_full / s.bins : 0),
    badge: s.bins_full ? String(s.bins_full) : "",
    title: `${s.name}: ${t("sites.bins_full")} ${s.bins_full} / ${s.bins}`,
    popup: () => h("div", { class: "popup", "data-site": s.site_id },
      h("strong", { text: s.name }),
      h("div", { text: `${t("sites.bins_full")} ${s.bins_full} / ${s.bins} · ${t("sites.pickups")} ${s.pickups_open}` }),
      h("div", { class: "small muted", text: `${t("sites.weighins")} ${num(s.weighins_today)} · ${kg(s.net_g_today, 1)}` }),
      h("button", { type: "button", class: "small secondary", text: t("sites.show"), onclick: () => onPick(s.site_id) })),
  }));
}

function figures(x) {
  return [`${num(x.bins_full)} / ${num(x.bins)}`, num(x.weighins_today), kg(x.net_g_today, 1), num(x.pickups_open)];
}

/** The table of areas (kecamatan), each opening onto its sites; hidden for one site. */
export function renderSites() {
  const card = document.getElementById("sites-card");
  const ov = state.overview;
  if (!card) return;
  card.hidden = !ov || ov.sites.length < 2;
  if (card.hidden) return;
  const rows = [];
  const attrs = [];
  // full bins first, then open pickups, then by name (the API's order)
  const urgent = [...ov.areas].sort((a, b) => (b.bins_full - a.bins_full) || (b.pickups_open - a.pickups_open));
  const areas = allAreas ? urgent : urgent.slice(0, AREAS_SHOWN);
  for (const a of areas) {
    const key = a.area ?? "";
    const open = openAreas.has(key);
    const name = a.area ?? t("sites.noarea");
    rows.push([h("button", {
      type: "button", class: "link area-toggle", "aria-expanded": String(open),
      onclick: () => {
        if (open) openAreas.delete(key);
        else openAreas.add(key);
        renderSites();
      },
    }, h("strong", { text: name }), " ", h("span", { class: "muted small", text: t("sites.n", { n: a.sites }) })), ...figures(a)]);
    attrs.push({ "data-area": key, class: "area-row" });
    if (!open) continue;
    for (const s of ov.sites.filter((x) => (x.area ?? "") === key)) {
      const shown = state.site === s.site_id;
      rows.push([h("span", { class: "site-name" }, s.name, " ",
        h("button", { type: "button", class: "small secondary", "aria-pressed": String(shown),
          text: t("sites.show"), "aria-label": `${t("sites.show")}: ${s.name}`, onclick: () => onPick(s.site_id) })),
      ...figures(s)]);
      attrs.push({ "data-site": s.site_id, class: "site-row" });
    }
  }
  const columns = [{ label: t("sites.area") }, { label: t("sites.bins_full"), num: true }, { label: t("sites.weighins"), num: true },
    { label: t("sites.kg"), num: true }, { label: t("sites.pickups"), num: true }];
  const more = ov.areas.length > AREAS_SHOWN
    ? h("button", { type: "button", class: "small secondary", "aria-expanded": String(allAreas),
      text: allAreas ? t("sites.fewer") : t("sites.all", { n: ov.areas.length }),
      onclick: () => {
        allAreas = !allAreas;
        renderSites();
      } })
    : null;
  fill(document.getElementById("sites"), cardTable(columns, rows, (i) => attrs[i]), more);
}
