// Fraud cases: the list an operator reviews (dismiss with a note, or confirm: a case
// against a household holds its payouts), the rules in force, the payouts on hold.
import "./stock_strings.js";
import { $, h, fill, dateOnly, dateTime, toast, errorText, newKey } from "../util.js";
import { lang, t } from "../i18n.js";
import { E } from "../endpoints.js";
import { downloadReport } from "./trends.js";
import { buildCasesView } from "./stock_view.js";

let bound = false;

function subjectText(c) {
  return `${t(`subject.${c.subject_kind}`)} ${c.subject_key}`;
}

function caseItem(c) {
  const note = h("input", { id: `case-note-${c.id}`, autocomplete: "off", maxlength: 300 });
  const key = newKey(); // one key per case shown: a double click decides once
  const decide = (action) => async () => {
    if (note.value.trim().length < 3) {
      toast(t("cases.need_note"), "bad");
      note.focus();
      return;
    }
    try {
      await E.decideCase(c.id, action, note.value.trim(), `${key}-${action}`);
      toast(t("cases.decided"));
      showCases();
    } catch (err) {
      toast(errorText(err), "bad");
    }
  };
  const explanation = lang() === "en" ? c.explanation_en : c.explanation_id;
  const days = c.first_day === c.last_day ? dateOnly(c.first_day) : `${dateOnly(c.first_day)} – ${dateOnly(c.last_day)}`;
  const badge = c.status === "open" ? "warn" : c.status === "confirmed" ? "bad" : "ok";
  return h("li", { class: "alert-item", "data-case": c.id, "data-rule": c.rule_code, "data-status": c.status },
    h("div", { class: "what" },
      h("strong", { text: t(`rule.${c.rule_code}`) }), " ", h("span", { class: `badge ${badge}`, text: t(`cases.${c.status}`) }),
      h("div", { text: `${subjectText(c)} · ${days} · ${t("cases.hits", { n: c.hits })}` }),
      h("div", { class: "small", text: c.summary }),
      h("div", { class: "small muted", text: explanation }),
      c.status !== "open" ? h("div", { class: "small muted", text: `${dateTime(c.decided_at)} ${t("cases.by", { who: c.decided_by || "" })}: ${c.note || ""}` }) : null),
    c.status === "open"
      ? h("div", { class: "row", "data-writes": "" },
        h("div", {}, h("label", { for: note.id, text: t("cases.note") }), note),
        h("button", { type: "button", class: "small secondary", text: t("cases.dismiss"), onclick: decide("dismiss") }),
        h("button", { type: "button", class: "small danger", text: t(c.household_id ? "cases.confirm" : "cases.confirm_only"), onclick: decide("confirm") }))
      : null);
}

function ruleItem(r) {
  const params = Object.entries(r.params).map(([k, v]) => `${k} = ${v}`).join(", ");
  return h("li", { "data-rule": r.code },
    h("strong", { text: t(`rule.${r.code}`) }), r.enabled ? null : h("span", { class: "badge off", text: "off" }),
    h("div", { class: "small", text: lang() === "en" ? r.explanation_en : r.explanation_id }),
    h("div", { class: "small muted", text: params }));
}

function bindOnce() {
  if (bound) return;
  bound = true;
  buildCasesView($("#view-cases"));
  $("#cases-status").addEventListener("change", () => showCases());
  $("#export-cases").addEventListener("click", () => downloadReport("cases"));
}

/** Show the cases view (the chosen status), the rules and the holds. */
export async function showCases() {
  bindOnce();
  const status = $("#cases-status").value || undefined;
  try {
    const [cases, rules, holds] = await Promise.all([E.cases({ status, limit: 200 }), E.fraudRules(), E.payoutHolds()]);
    fill($("#cases-list"), cases.length ? cases.map(caseItem) : h("li", { class: "empty", text: t("cases.none") }));
    fill($("#cases-rules"), rules.map(ruleItem));
    const active = holds.filter((x) => !x.released_at);
    fill($("#cases-holds"), active.length
      ? active.map((x) => h("li", {}, `#${x.household_id} · ${dateTime(x.held_at)} · ${x.held_by} (case ${x.case_id})`))
      : h("li", { class: "empty", text: t("cases.holds.none") }));
  } catch (err) {
    fill($("#cases-list"), h("li", { class: "form-error", text: errorText(err) }));
  }
}
