// The pickup board: open requests by due time, assign to a collector, mark done. Each
// column is a page of GET /pickups (the util.js pager under it; today's done ones only).
import "../doorstep_strings.js";
import { $, h, fill, kg, pct, clock, dateTime, relative, localDay, dayStartUtc, toast, errorText, parseKgToGrams, toDate, pager, soon } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { state, categoryName, binName, collectorName, fillHouseholdCell } from "./state.js";
import { renderKpis } from "./overview.js";

// ------------------------------------------------------------------ pickups

export function pickupTitle(p) {
  if (p.bin_id) return binName(p.bin_id);
  return p.household_name ? `${p.member_no || ""} · ${p.household_name}` : null;
}

export function pickupCard(p) {
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
    actions.append(h("div", { class: "row", "data-writes": "" }, sel,
      h("button", { type: "button", class: "small", text: t("pickups.assign"), onclick: () => assign(p.id, sel.value) })));
    if (p.household_id) {
      // weighed at the door by the collector's phone: that is what pays the household
      actions.append(h("div", { class: "small muted", text: t("pickups.at_door") }));
    } else {
      const w = h("input", { id: `weight-${p.id}`, inputmode: "decimal", placeholder: "kg", "aria-label": t("pickups.weight") });
      actions.append(h("div", { class: "row", style: "margin-top:.4rem", "data-writes": "" }, w,
        h("button", { type: "button", class: "small secondary", text: t("pickups.complete"), onclick: () => complete(p.id, w.value) })));
    }
  } else if (p.status === "done") {
    actions.append(h("div", { class: "small", text: t("pickups.completed", { when: clock(p.completed_at), kg: kg(p.collected_g) }) }));
  }
  card.append(actions);
  return card;
}

/** Each column of the board shows this many pickups at a time. */
export const PICKUP_PAGE = 25;
const COLUMNS = ["open", "assigned", "done"];
const offsets = { open: 0, assigned: 0, done: 0 };

/** Load the board's pages (the columns named, at their offsets) into `state`. */
export async function loadPickups(columns = COLUMNS) {
  const today = dayStartUtc(localDay(new Date()));
  await Promise.all(columns.map(async (col) => {
    const q = col === "done" ? { status: col, completed_since: today } : { status: col };
    state.pickupPages[col] = await E.pickups(q, offsets[col], PICKUP_PAGE);
  }));
  state.pickups = new Map(COLUMNS.flatMap((c) => (state.pickupPages[c] ? state.pickupPages[c].items : [])).map((p) => [p.id, p]));
}

/** Re-read the board soon (a pickup changed: it may move column, the counts change). */
export const pickupsSoon = soon(1000, async () => {
  await loadPickups();
  renderPickups();
});

export function renderPickups() {
  // a live event re-renders the board: keep what the operator was choosing or typing
  const board = $("#view-pickups");
  const typed = new Map([...board.querySelectorAll("select[id], input[id]")].map((el) => [el.id, el.value]));
  const focused = document.activeElement && board.contains(document.activeElement) ? document.activeElement.id : "";
  for (const name of COLUMNS) {
    const page = state.pickupPages[name];
    // the freshest copy of each (live events), still in this column
    const rows = (page ? page.items : []).map((p) => state.pickups.get(p.id) || p).filter((p) => p.status === name);
    $(`#count-${name}`).textContent = page ? String(page.total) + (page.total_exact === false ? "+" : "") : "0";
    fill($(`#pickups-${name}`), rows.length ? rows.map(pickupCard) : h("p", { class: "empty", text: t("pickups.none") }));
    fill($(`#pickups-${name}-pager`), page && (page.offset > 0 || page.total > page.items.length)
      ? pager(page, (o) => {
        offsets[name] = o;
        loadPickups([name]).then(renderPickups).catch((err) => toast(errorText(err), "bad"));
      })
      : []);
  }
  for (const [id, value] of typed) {
    const el = document.getElementById(id);
    if (el && value) el.value = value;
  }
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus({ preventScroll: true });
  renderKpis();
}

export function upsertPickup(p) {
  state.pickups.set(p.id, p);
  renderPickups();
  pickupsSoon();
}

export async function assign(id, collectorId) {
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

export async function complete(id, weightText) {
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
