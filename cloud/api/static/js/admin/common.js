// Helpers shared by the administration screens: the sites (cached), labelled form fields,
// and an action wrapper with toasts. (Their pager is util.pager, the dashboard's one.)
import { E } from "../endpoints.js";
import { t } from "../i18n.js";
import { h, toast, errorText } from "../util.js";

let sites = null;

/** The sites, read once per page load: [{id, code, name}]. */
export async function loadSites() {
  if (!sites) sites = await E.sites();
  return sites;
}

export function siteName(id) {
  const s = (sites || []).find((x) => x.id === id);
  return s ? s.name : id == null ? "–" : `#${id}`;
}

/** <option>s of the sites, with an "all" option first when `all` is given. */
export function siteOptions(all = false, selected = null) {
  const opts = (sites || []).map((s) => h("option", { value: s.id, selected: s.id === selected, text: s.name }));
  return all ? [h("option", { value: "", text: t("adm.all") }), ...opts] : opts;
}

/** A label + control pair in a <div> (the row layout of the dashboard's forms). */
export function field(id, label, control) {
  control.id = id;
  return h("div", {}, h("label", { for: id, text: label }), control);
}

/** Run `fn`; toast its success (`ok`) or its error; then `after()`. Returns fn's value. */
export async function act(fn, ok = t("adm.saved"), after = () => {}) {
  try {
    const out = await fn();
    if (ok) toast(ok);
    return out;
  } catch (err) {
    toast(errorText(err), "bad");
    return undefined;
  } finally {
    await after();
  }
}

/** Whole rupiah typed by a person ("15.000", "15000", "-2.000"), or null. */
export function parseRupiah(text) {
  const clean = String(text).trim().replace(/[.\s]/g, "").replace(/^Rp/i, "");
  return /^-?\d+$/.test(clean) ? Number(clean) : null;
}
