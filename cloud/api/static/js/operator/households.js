// Household lookup: balance, statement, payouts (request, approve, pay).
import { $, h, fill, rupiah, kg, dateTime, toast, errorText, newKey, cardTable, parseRupiah, pager } from "../util.js";
import { t } from "../i18n.js";
import { E } from "../endpoints.js";
import { categoryName, fillHouseholdCell, state } from "./state.js";

// ------------------------------------------------------------------ households

/** What the household list shows: the text searched (on the server) and the page. */
const shown = { q: null, offset: 0, seq: 0 };

/**
 * One page of the households matching `q` (every household when empty), searched and
 * paged on the server, with previous/next and "1–25 of 12.345" ("of more than 1.000"
 * when the server counted no further). Answers that arrive after a newer request are
 * dropped (typing searches as it goes).
 */
export async function searchHouseholds(q, offset = 0) {
  const list = $("#hh-results");
  const seq = ++shown.seq;
  Object.assign(shown, { q, offset });
  // (what was listed goes at once: a pick is never made on the previous answer)
  fill(list, h("li", { class: "muted", text: t("hh.searching") }));
  try {
    const page = await E.households(q, offset);
    if (seq !== shown.seq) return;
    const rows = page.items;
    fill($("#hh-pager"), page.total || offset ? pager(page, (o) => searchHouseholds(shown.q, o)) : []);
    fill(list, rows.length
      ? rows.map((hh) => h("li", {}, h("button", {
          type: "button", class: "secondary hh-pick", "data-household": hh.id, "aria-pressed": "false",
          onclick: (ev) => {
            for (const b of list.querySelectorAll(".hh-pick")) b.setAttribute("aria-pressed", String(b === ev.currentTarget));
            showHousehold(hh.id);
          },
          text: `${hh.member_no} · ${hh.name}${hh.active ? "" : ` (${t("hh.inactive")})`}`,
        })))
      : h("li", { class: "empty", text: t("hh.none") }));
  } catch (err) {
    if (seq === shown.seq) fill(list, h("li", { class: "form-error", text: errorText(err) }));
  }
}

/** The list when the view opens: what was shown before, else the first page of all. */
export function showHouseholdList() {
  if (shown.q === null) searchHouseholds("");
}

let typing = null;
/** Search as the operator types (a pause of 300 ms), as well as on "Find". */
export function searchWhileTyping(input) {
  clearTimeout(typing);
  typing = setTimeout(() => {
    const q = input.value.trim();
    if (q !== shown.q) searchHouseholds(q);
  }, 300);
}

export function payoutItem(p, onChange) {
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
    buttons.push(h("button", { type: "button", class: "small secondary", text: t("hh.payout.reject"), onclick: () => {
      const reason = window.prompt(t("hh.payout.reason"), t("hh.payout.reason_default"));
      if (reason !== null) act(() => E.rejectPayout(p.id, reason.trim() || t("hh.payout.reason_default"), newKey()))();
    } }));
  }
  if (p.status === "approved") buttons.push(h("button", { type: "button", class: "small", text: t("hh.payout.pay"), onclick: act(() => E.payPayout(p.id, newKey())) }));
  // who did what so far, and whether a second person must do the next step (cloud.payouts)
  const who = [`${t("hh.payout.by.requested")} ${p.requested_by}`];
  if (p.decided_by) who.push(`${t(`hh.payout.by.${p.status === "rejected" ? "rejected" : "approved"}`)} ${p.decided_by}`);
  if (p.paid_by) who.push(`${t("hh.payout.by.paid")} ${p.paid_by}`);
  const limit = state.config && state.config.two_person_payout_rp;
  const twoPeople = limit != null && p.amount_rp >= limit && (p.status === "requested" || p.status === "approved");
  return h("li", { "data-payout": p.id, "data-status": p.status, class: "alert-item" },
    h("div", { class: "what" }, h("strong", { text: rupiah(p.amount_rp) }), " ", h("span", { class: "badge", text: t(`hh.payout.status.${p.status}`) }),
      twoPeople ? h("span", { class: "badge warn", "data-two-person": "", title: t("hh.payout.two_person_hint"), text: t("hh.payout.two_person") }) : null,
      h("div", { class: "small muted", text: `${dateTime(p.requested_at)} · ${who.join(" · ")}` })),
    h("div", { class: "row", "data-writes": "" }, buttons));
}

export async function showHousehold(id) {
  const box = $("#hh-detail");
  box.hidden = false;
  try {
    const [hh, bal, stmt, payouts] = await Promise.all([E.household(id), E.balance(id), E.statement(id), E.payouts(id)]);
    const amount = h("input", { id: "payout-amount", inputmode: "numeric", autocomplete: "off" });
    const form = h("form", { class: "row", "data-writes": "", onsubmit: async (ev) => {
      ev.preventDefault();
      const n = parseRupiah(amount.value) ?? 0;
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

/** The statement, newest first: a table on a laptop, one card per line on a phone. */
export function statementTable(lines) {
  if (!lines.length) return h("p", { class: "empty", text: t("stmt.none") });
  const columns = [{ label: t("stmt.date") }, { label: t("stmt.desc") }, { label: t("stmt.amount"), num: true }, { label: t("stmt.balance"), num: true }];
  const newest = [...lines].reverse();
  return cardTable(columns, newest.map((l) => [
    dateTime(l.at),
    [h("div", { text: t(`stmt.kind.${l.kind}`) }), l.weighin ? h("div", { class: "small muted", text: `${categoryName(l.weighin.category_code)} · ${kg(l.weighin.net_g)}` }) : null],
    rupiah(l.amount_rp),
    rupiah(l.balance_rp),
  ]));
}

/** Households that owe the programme (a reversal of money already spent or held). */
export async function renderReceivables() {
  const box = $("#receivables");
  try {
    const rows = await E.receivables();
    const columns = [{ label: t("hh.owed.member") }, { label: t("hh.owed.reversals") }, { label: t("hh.owed.amount"), num: true }];
    fill(box, rows.length
      ? cardTable(columns, rows.map((r) => [
          `${r.member_no} · ${r.name}`,
          r.reversals.map((x) => `#${x.weighin_id}`).join(", "),
          rupiah(r.owed_rp),
        ]))
      : h("p", { class: "empty", text: t("hh.owed.none") }));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export async function renderPendingPayouts() {
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
