// The operator dashboard's shared state and lookups (categories, bins, collectors, households).
import { h } from "../util.js";
import { lang } from "../i18n.js";
import { E } from "../endpoints.js";
import { UNKNOWN_COLOUR } from "../charts.js";

export const DL_ACK_KEY = "salinmas.deadletters.ack";

export const FEED_MAX = 50;

export const state = {
  /** GET /api/v1/ui-config: the map's tile server, the time zone */
  config: null,
  /** GET /api/v1/overview: figures per site and kecamatan (./sites.js) */
  overview: null,
  /** the site whose bins are loaded when there are too many to load all (./sites.js) */
  site: null,
  /** the page of bins loaded (GET /bins {items, total, ...}), for the list's pager */
  binPage: null,
  bins: new Map(),
  weighins: [],
  /** the stations drawn on the map (the picked site's, or all while few: ./sites.js) */
  stations: new Map(),
  /** the map's visible area once zoomed in: {bbox, page, bins, stations} (./sites.js) */
  area: null,
  /** the page of offline devices listed on the overview */
  devicePage: null,
  /** the pickup board's pages per column (open, assigned, done today: ./pickups.js) */
  pickupPages: { open: null, assigned: null, done: null },
  alerts: new Map(),
  pickups: new Map(),
  collectors: [],
  categories: new Map(),
  households: new Map(),
  deadLetters: { total: 0, by_reason: {} },
  today: { day: "", net_g: 0, amount_rp: 0 },
};

// ------------------------------------------------------------------ lookups

export function categoryName(code) {
  const c = state.categories.get(code);
  if (!c) return code || "–";
  return lang() === "en" ? c.name_en : c.name_id;
}

/** The category's colour, from its record (the API gives each a stable one by code). */
export function categoryColour(code) {
  const c = state.categories.get(code);
  return (c && c.colour) || UNKNOWN_COLOUR;
}

export function binName(id) {
  const b = state.bins.get(id);
  return (b && b.name) || id;
}

export function collectorName(id) {
  const c = state.collectors.find((x) => x.id === id);
  return c ? c.display_name || c.username : `#${id}`;
}

/** Households seen in the feed and on pickups, fetched once each. */
export function householdOf(id) {
  if (!state.households.has(id)) state.households.set(id, E.household(id).catch(() => null));
  return state.households.get(id);
}

export async function householdLabel(id) {
  if (id == null) return null;
  const hh = await householdOf(id);
  return hh ? `${hh.member_no} · ${hh.name}` : `#${id}`;
}

export function fillHouseholdCell(cell, id, fallback) {
  if (id == null) {
    cell.textContent = fallback;
    return;
  }
  cell.textContent = `#${id}`;
  householdLabel(id).then((label) => (cell.textContent = label));
}

/** Name on the first line, member number under it. */
export function householdLines(memberNo, name) {
  return [h("span", { text: name || memberNo }), h("div", { class: "small muted", text: memberNo })];
}
