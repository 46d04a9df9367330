// The weigh-in history: the weigh-ins within reach, newest first, a page at a time
// (GET /weighins with offset, the util.js pager), filtered by status, station, member
// number and days. A row links to its household (the households view) and to the public
// verification page; acting on a weigh-in (crediting an unknown card's) stays in the
// overview's live feed.
import { $, h, fill, kg, rupiah, dateTime, dayStartUtc, cardTable, pager, errorText } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { bindDateField, dateFieldValue } from "../datefield.js";
import { categoryName, householdOf } from "./state.js";
import { showHousehold } from "./households.js";

/** Rows per page. */
export const WEIGHIN_PAGE = 25;

/** The filters and page shown; answers older than the latest request are dropped. */
const shown = { query: null, page: null, seq: 0 };

const STATUS_BADGE = { credited: "ok", unassigned: "warn", held: "warn", rejected: "bad" };

function nextDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The filters as the API's query; null while a typed date is not a date. */
function typedFilters() {
  const q = {};
  const status = $("#wh-status").value;
  const station = $("#wh-station").value.trim();
  const member = $("#wh-member").value.trim();
  if (status) q.status = status;
  if (station) q.device_id = station;
  if (member) q.member_no = member;
  // days in the programme's zone: from the start of the first to the end of the last
  for (const [sel, key, start] of [["#wh-from", "since", (d) => d], ["#wh-to", "until", nextDay]]) {
    const input = $(sel);
    if (!input.value.trim()) continue;
    const day = dateFieldValue(input);
    if (!day) return null;
    q[key] = dayStartUtc(start(day));
  }
  return q;
}

/** Load the page at `offset` of the weigh-ins matching `query`, and show it. */
export async function loadWeighins(query, offset = 0) {
  const seq = ++shown.seq;
  shown.query = query;
  fill($("#wh-status-line"), t("wh.loading"));
  try {
    const page = await E.weighinPage(query, offset, WEIGHIN_PAGE);
    if (seq !== shown.seq) return;
    shown.page = page;
    renderWeighins();
  } catch (err) {
    if (seq === shown.seq) fill($("#wh-status-line"), h("span", { class: "form-error", text: errorText(err) }));
  }
}

function householdCell(w) {
  if (w.household_id == null) {
    return [h("span", { class: "muted", text: t("feed.unassigned") }), w.card_id ? h("div", { class: "small muted mono", text: w.card_id }) : null];
  }
  const link = h("a", { href: "#households", class: "wh-household", "data-household": w.household_id, text: `#${w.household_id}`,
    onclick: () => showHousehold(w.household_id) });
  householdOf(w.household_id).then((hh) => hh && (link.textContent = `${hh.member_no} · ${hh.name}`));
  return link;
}

function statusCell(w) {
  return [h("span", { class: `badge ${STATUS_BADGE[w.status] || ""}`, text: t(`wh.status.${w.status}`) }),
    w.reversed ? [" ", h("span", { class: "badge bad", text: t("wh.reversed") })] : null,
    w.reason && w.status !== "credited" ? h("div", { class: "small muted", text: w.reason }) : null];
}

/** The page shown (again: the language changed, the view opened). */
export function renderWeighins() {
  const page = shown.page;
  if (!page) return;
  fill($("#wh-status-line"), []);
  const columns = [{ label: t("feed.time") }, { label: t("feed.station") }, { label: t("feed.household") },
    { label: t("feed.category") }, { label: t("feed.weight"), num: true }, { label: t("feed.amount"), num: true },
    { label: t("wh.status") }, { label: t("wh.verify") }];
  const rows = page.items.map((w) => [
    dateTime(w.effective_at), w.device_id, householdCell(w), categoryName(w.category_code), kg(w.net_g), rupiah(w.amount_rp),
    statusCell(w),
    w.verify_code ? h("a", { class: "small mono", href: `verify.html#${w.verify_code}`, target: "_blank", rel: "noopener", text: w.verify_code }) : "–",
  ]);
  fill($("#wh-table"), rows.length
    ? cardTable(columns, rows, (i) => ({ "data-weighin": page.items[i].id, "data-status": page.items[i].status }))
    : h("p", { class: "empty", text: t("wh.none") }));
  fill($("#wh-pager"), page.offset > 0 || page.total > page.items.length ? pager(page, (o) => loadWeighins(shown.query, o)) : []);
}

/** The view opened: what was shown before, else the first page of every weigh-in. */
export function showWeighinList() {
  if (shown.query === null) loadWeighins({});
  else renderWeighins();
}

export function bindWeighins() {
  bindDateField($("#wh-from"), $("#wh-from-hint"));
  bindDateField($("#wh-to"), $("#wh-to-hint"));
  $("#wh-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = typedFilters();
    if (q === null) fill($("#wh-status-line"), h("span", { class: "form-error", text: t("date.invalid") }));
    else loadWeighins(q);
  });
}
