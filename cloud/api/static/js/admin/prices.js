// Prices: the current price per category, proposals and their approval by a second
// person (the API refuses the proposer's own approval and says so).
import { E } from "../endpoints.js";
import { $, h, fill, cardTable, rupiah, dateTime, errorText } from "../util.js";
import { act, parseRupiah } from "./common.js";
import { lang, t } from "../i18n.js";

let categories = [];

function catName(code) {
  const c = categories.find((x) => x.code === code);
  return c ? (lang() === "en" ? c.name_en : c.name_id) : code;
}

export async function showPrices() {
  try {
    categories = await E.categories();
  } catch (err) {
    fill($("#price-current"), h("p", { class: "form-error", text: errorText(err) }));
    return;
  }
  const sel = $("#price-category");
  const keep = sel.value;
  fill(sel, categories.map((c) => h("option", { value: c.code, text: catName(c.code) })));
  if (keep) sel.value = keep;
  fill($("#price-current"), cardTable([{ label: t("prices.category") }, { label: t("prices.current"), num: true }],
    categories.map((c) => [catName(c.code), rupiah(c.rp_per_kg)])));
  await loadChanges();
}

async function loadChanges() {
  const box = $("#price-changes");
  try {
    const page = await E.priceChanges();
    fill(box, page.items.length
      ? cardTable(
          [{ label: t("prices.category") }, { label: t("prices.rp"), num: true }, { label: t("prices.from_col") },
           { label: t("prices.by") }, { label: t("prices.status") }, { label: "" }],
          page.items.map((c) => [catName(c.category_code), rupiah(c.rp_per_kg),
            c.effective_from ? dateTime(c.effective_from) : t("prices.now"),
            `${c.proposed_by} · ${dateTime(c.proposed_at)}`,
            h("span", { class: `badge ${c.status === "approved" ? "ok" : c.status === "pending" ? "warn" : "off"}`,
              text: t(`prices.status.${c.status}`) + (c.decided_by ? ` · ${c.decided_by}` : "") }),
            c.status === "pending" ? h("div", { class: "row", "data-writes": "" },
              h("button", { type: "button", class: "small", text: t("prices.approve"),
                onclick: () => act(() => E.approvePrice(c.id), t("prices.status.approved"), showPrices) }),
              h("button", { type: "button", class: "small secondary", text: t("prices.reject"), onclick: () => {
                const reason = window.prompt(t("prices.reject_reason"), "");
                if (reason && reason.trim()) act(() => E.rejectPrice(c.id, reason.trim()), t("prices.status.rejected"), showPrices);
              } })) : ""]),
          (i) => ({ "data-change": page.items[i].id, "data-status": page.items[i].status }))
      : h("p", { class: "empty", text: t("adm.none") }));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export function bindPrices() {
  $("#price-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const rp = parseRupiah($("#price-rp").value);
    if (rp === null || rp < 0) {
      $("#price-rp").setAttribute("aria-invalid", "true");
      return;
    }
    $("#price-rp").removeAttribute("aria-invalid");
    const from = $("#price-from").value; // datetime-local, the browser's zone
    const body = { category: $("#price-category").value, rp_per_kg: rp, note: $("#price-note").value.trim() || undefined,
      effective_from: from ? new Date(from).toISOString() : undefined };
    const made = await act(() => E.proposePrice(body), t("prices.status.pending"), loadChanges);
    if (made) $("#price-form").reset();
  });
}
