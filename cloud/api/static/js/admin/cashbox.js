// End of day: a site's cash box for a day. Float + cash in - cash out - cash payouts =
// expected; the counted cash closes the day (a difference needs a reason); only the
// administrator reopens a closed day (the API decides; the button is shown to all).
import { E } from "../endpoints.js";
import { t } from "../i18n.js";
import { $, h, fill, cardTable, rupiah, localDay, dateOnly, errorText, latest } from "../util.js";
import { act, field, loadSites, parseRupiah, siteName, siteOptions } from "./common.js";

export async function showCashbox() {
  await loadSites().catch(() => []);
  const site = $("#cash-site");
  if (!site.options.length) fill(site, siteOptions());
  if (!$("#cash-day").value) $("#cash-day").value = localDay(new Date());
  await Promise.all([loadDay(), loadRecent()]);
}

function money(id, label, placeholder = "0") {
  return field(id, label, h("input", { inputmode: "numeric", autocomplete: "off", placeholder }));
}

const dayAsked = latest();
const recentAsked = latest();

async function loadDay() {
  const mine = dayAsked();
  const siteId = Number($("#cash-site").value);
  const day = $("#cash-day").value;
  const box = $("#cash-tally");
  if (!siteId || !/^\d{4}-\d\d-\d\d$/.test(day)) return;
  let tally;
  try {
    tally = await E.cashDay(siteId, day);
  } catch (err) {
    if (!mine()) return;
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
    return;
  }
  if (!mine()) return; // a newer day (or site) was asked for meanwhile
  const st = tally.status || "none";
  const rows = [
    [t("cash.float"), rupiah(tally.opening_float_rp)], [t("cash.in"), rupiah(tally.cash_in_rp)],
    [t("cash.out"), rupiah(-tally.cash_out_rp)], [t("cash.payouts", { n: tally.payouts }), rupiah(-tally.payouts_rp)],
    [h("strong", { text: t("cash.expected") }), h("strong", { id: "cash-expected", text: rupiah(tally.expected_rp) })],
  ];
  if (st === "closed") rows.push([t("cash.counted"), rupiah(tally.counted_rp)],
    [t("cash.difference"), h("span", { id: "cash-difference", class: tally.difference_rp ? "badge warn" : "badge ok", text: rupiah(tally.difference_rp) })],
    [t("cash.reason"), tally.reason || "–"]);
  const after = () => Promise.all([loadDay(), loadRecent()]);
  const forms = [];
  if (st === "none") {
    const f = h("form", { class: "row", onsubmit: (ev) => {
      ev.preventDefault();
      const rp = parseRupiah($("#cash-float").value);
      if (rp !== null) act(() => E.openCash(siteId, day, rp), t("cash.status.open"), after);
    } }, money("cash-float", t("cash.float")), h("button", { type: "submit", text: t("cash.open") }));
    forms.push(f);
  }
  if (st === "open") {
    const kind = h("select", {}, ["sale", "top_up", "bank_deposit", "other"].map((k) => h("option", { value: k, text: t(`cash.kind.${k}`) })));
    forms.push(h("form", { class: "row", onsubmit: (ev) => {
      ev.preventDefault();
      const rp = parseRupiah($("#cash-amount").value);
      if (rp !== null) act(() => E.cashMovement(siteId, day, { kind: kind.value, amount_rp: rp }), t("adm.saved"), after);
    } }, field("cash-kind", t("cash.kind"), kind), money("cash-amount", t("cash.amount")),
      h("button", { type: "submit", class: "secondary", text: t("cash.add") })));
    forms.push(h("form", { class: "row", onsubmit: (ev) => {
      ev.preventDefault();
      const rp = parseRupiah($("#cash-counted").value);
      if (rp !== null) act(() => E.closeCash(siteId, day, rp, $("#cash-reason").value.trim()), t("cash.status.closed"), after);
    } }, money("cash-counted", t("cash.counted")), field("cash-reason", t("cash.reason"), h("input", { maxlength: 300 })),
      h("button", { type: "submit", text: t("cash.close") })));
  }
  if (st === "closed") {
    forms.push(h("div", { class: "row" }, h("button", { type: "button", class: "secondary", text: t("cash.reopen"), onclick: () => {
      const reason = window.prompt(t("cash.reopen_reason"), "");
      if (reason && reason.trim()) act(() => E.reopenCash(siteId, day, reason.trim()), t("cash.status.open"), after);
    } })));
  }
  for (const f of forms) f.dataset.writes = "";
  fill(box,
    h("p", {}, `${siteName(siteId)} · ${dateOnly(`${day}T12:00:00Z`)} `,
      h("span", { id: "cash-status", "data-status": st, "data-day": day, class: `badge ${st === "closed" ? "ok" : st === "open" ? "warn" : "off"}`, text: t(`cash.status.${st}`) })),
    // two columns fit a phone: a plain table (not cardTable)
    h("table", { class: "tally" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "num" }, v))))),
    forms.map((f) => h("div", { style: "margin-top:.75rem" }, f)));
}

async function loadRecent() {
  const mine = recentAsked();
  const box = $("#cash-recent");
  try {
    const page = await E.cashDays({ site_id: $("#cash-site").value || undefined });
    if (!mine()) return;
    fill(box, page.items.length
      ? cardTable([{ label: t("cash.day") }, { label: t("adm.site") }, { label: t("dir.status") }, { label: t("cash.difference"), num: true }],
          page.items.map((d) => [d.day, siteName(d.site_id), t(`cash.status.${d.status}`), d.difference_rp == null ? "–" : rupiah(d.difference_rp)]))
      : h("p", { class: "empty", text: t("adm.none") }));
  } catch (err) {
    if (mine()) fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export function bindCashbox() {
  $("#cash-pick").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadDay();
    loadRecent();
  });
}

