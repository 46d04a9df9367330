// Household records: searched and paged on the server, edited (name, phone, address),
// deactivated; and the import of a household list (check first, import when clean).
import { E } from "../endpoints.js";
import { lang, t } from "../i18n.js";
import { $, h, fill, cardTable, errorText, pager, toast } from "../util.js";
import { act, field, loadSites, siteName, siteOptions } from "./common.js";

const query = { q: "", site_id: "", active: "", offset: 0 };

export async function showDirectory() {
  await loadSites().catch(() => []);
  const site = $("#dir-site");
  if (!site.options.length) fill(site, siteOptions(true));
  await loadPage(query.offset);
}

async function loadPage(offset) {
  query.offset = offset;
  const box = $("#dir-table");
  try {
    const page = await E.directory({ q: query.q, site_id: query.site_id, active: query.active, offset });
    fill(box, page.items.length
      ? cardTable(
          [{ label: t("dir.member") }, { label: t("dir.name") }, { label: t("dir.phone") }, { label: t("adm.site") },
           { label: t("dir.cards") }, { label: t("dir.status") }, { label: "" }],
          page.items.map((hh) => [hh.member_no, hh.name, hh.phone || "–", siteName(hh.site_id), hh.cards.join(", ") || "–",
            h("span", { class: `badge ${hh.active ? "ok" : "off"}`, text: t(hh.active ? "dir.active" : "dir.inactive") }),
            h("button", { type: "button", class: "small secondary", "data-writes": "", text: t("dir.edit"), "aria-label": `${t("dir.edit")} ${hh.member_no}`,
              onclick: () => editHousehold(hh) })]),
          (i) => ({ "data-household": page.items[i].id }))
      : h("p", { class: "empty", text: t("adm.none") }),
      pager(page, loadPage));
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

function editHousehold(hh) {
  const box = $("#dir-edit");
  box.hidden = false;
  const name = h("input", { value: hh.name, required: true, maxlength: 200 });
  const phone = h("input", { value: hh.phone || "", inputmode: "tel", maxlength: 40 });
  const address = h("input", { value: hh.address || "", maxlength: 300 });
  const form = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    const changes = { name: name.value.trim(), phone: phone.value.trim() || undefined, address: address.value.trim() || undefined };
    const saved = await act(() => E.updateHousehold(hh.id, changes), t("adm.saved"), () => loadPage(query.offset));
    if (saved) editHousehold(saved);
  } },
    field("dir-edit-name", t("dir.name"), name),
    field("dir-edit-phone", t("dir.phone"), phone),
    field("dir-edit-address", t("dir.address"), address),
    h("div", { class: "row", style: "margin-top:.75rem" },
      h("button", { type: "submit", text: t("dir.save") }),
      hh.active && h("button", { type: "button", class: "danger", text: t("dir.deactivate"), onclick: async () => {
        if (!window.confirm(t("dir.deactivate_confirm", { member: hh.member_no }))) return;
        const out = await act(() => E.deactivateHousehold(hh.id), t("adm.saved"), () => loadPage(query.offset));
        if (out) editHousehold(out);
      } })));
  fill(box, h("header", {}, h("h2", { text: t("dir.edit_title", { member: hh.member_no }) })), form);
  box.scrollIntoView({ block: "nearest" });
  name.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ import

let checked = null; // the File whose dry run came back clean
/** The report's column keys as the agency's lists name them. */
const COLUMNS = {
  id: { name: "nama", phone: "telepon", site: "lokasi", card: "kartu", member_no: "no. anggota", address: "alamat" },
  en: { name: "name", phone: "phone", site: "site", card: "card", member_no: "member no.", address: "address" },
};

function problemsTable(problems) {
  return cardTable([{ label: t("imp.line"), num: true }, { label: t("imp.column") }, { label: t("imp.problem") }],
    problems.map((p) => [String(p.line), COLUMNS[lang()][p.column] || p.column, p.message]));
}

async function runImport(dryRun) {
  const file = $("#imp-file").files[0];
  const out = $("#imp-report");
  if (!file) return;
  $("#imp-run").disabled = true;
  try {
    const { status, report } = await E.importHouseholds(file, dryRun);
    if (status === 201) {
      checked = null;
      fill(out, h("p", { class: "notice ok", role: "status", text: t("imp.done", { n: report.imported, first: report.first_member_no, last: report.last_member_no }) }));
      toast(t("imp.done", { n: report.imported, first: report.first_member_no, last: report.last_member_no }));
      await loadPage(0);
      return;
    }
    const clean = report.bad_rows === 0 && status === 200;
    checked = clean ? file : null;
    $("#imp-run").disabled = !clean;
    fill(out,
      h("p", { class: `notice ${clean ? "ok" : "bad"}`, role: "status", "data-bad-rows": report.bad_rows,
        text: clean ? t("imp.clean", { rows: report.rows }) : t("imp.bad", { bad: report.bad_rows, rows: report.rows }) }),
      report.problems.length ? h("div", { class: "table-wrap" }, problemsTable(report.problems)) : null);
  } catch (err) {
    fill(out, h("p", { class: "form-error", text: errorText(err) }));
  }
}

export function bindDirectory() {
  $("#dir-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    query.q = $("#dir-q").value.trim();
    query.site_id = $("#dir-site").value;
    query.active = $("#dir-active").checked ? "true" : "";
    loadPage(0);
  });
  $("#imp-file").addEventListener("change", () => {
    checked = null;
    $("#imp-run").disabled = true;
    fill($("#imp-report"));
  });
  $("#imp-check").addEventListener("click", () => runImport(true));
  $("#imp-run").addEventListener("click", () => checked && runImport(false));
}
