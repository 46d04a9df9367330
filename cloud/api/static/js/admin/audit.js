// The audit log: every operator action with who, when, what, before and after; filtered
// and paged on the server. The API answers it to the administrator and the auditor
// (ProgrammeReader); an operator's page has no Audit tab (operator/views.js).
import { E } from "../endpoints.js";
import { t } from "../i18n.js";
import { $, h, fill, cardTable, dateTime, errorText, pager } from "../util.js";

const query = { actor: "", action: "", subject: "" };

function change(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const show = (v) => (v === undefined || v === null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return h("ul", { class: "plain small audit-change" }, keys.map((k) => h("li", {},
    h("code", { text: k }), `: ${before && k in before ? `${show(before[k])} → ` : ""}${show(after ? after[k] : undefined)}`)));
}

export async function showAudit(offset = 0) {
  const box = $("#audit-table");
  try {
    const page = await E.audit({ ...query, offset });
    fill(box, page.items.length
      ? cardTable([{ label: t("audit.at") }, { label: t("audit.actor") }, { label: t("audit.action") }, { label: t("audit.subject") }, { label: t("audit.change") }],
          page.items.map((a) => [dateTime(a.at), a.actor, a.action, a.subject, change(a.before, a.after)]),
          (i) => ({ "data-audit": page.items[i].id, "data-action": page.items[i].action }))
      : h("p", { class: "empty", text: t("adm.none") }),
      pager(page, showAudit));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export function bindAudit() {
  $("#audit-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    query.actor = $("#audit-actor").value.trim();
    query.action = $("#audit-action").value.trim();
    query.subject = $("#audit-subject").value.trim();
    showAudit(0);
  });
}
