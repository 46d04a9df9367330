// A date typed the app's way: day first (dd/mm/yyyy, as id-ID and en-GB both write it),
// whatever language the browser is set to (a native <input type=date> shows mm/dd/yyyy
// on an American browser). The field keeps the ISO day (YYYY-MM-DD) in data-iso and
// shows the date in words under it ("1 Desember 2026"), or what is wrong with it.
import { lang, onLangChange, t } from "./i18n.js";

const fields = new Set();

function locale() {
  return lang() === "en" ? "en-GB" : "id-ID";
}

/** "YYYY-MM-DD" of a typed date (d/m/yyyy, d-m-yyyy, d.m.yyyy or yyyy-mm-dd), or null. */
export function parseDay(text) {
  const s = String(text || "").trim();
  let y, m, d;
  let match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (match) [, y, m, d] = match.map(Number);
  else {
    match = /^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})$/.exec(s);
    if (!match) return null;
    [, d, m, y] = match.map(Number);
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return date.toISOString().slice(0, 10);
}

/** An ISO day as the app writes it: "01/12/2026". */
export function formatDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" })
    .format(Date.UTC(y, m - 1, d));
}

/** An ISO day in words: "1 Desember 2026" / "1 December 2026". */
export function longDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "long", year: "numeric", weekday: "short", timeZone: "UTC" })
    .format(Date.UTC(y, m - 1, d));
}

/** Make `input` a date field; `hint` (aria-describedby of it) shows the day in words. */
export function bindDateField(input, hint) {
  input.type = "text";
  input.inputMode = "numeric";
  input.autocomplete = "off";
  input.spellcheck = false;
  input._hint = hint;
  fields.add(input);
  const check = () => {
    const iso = parseDay(input.value);
    if (iso) setDateField(input, iso);
    else show(input, input.value.trim() ? null : "");
  };
  input.addEventListener("change", check);
  input.addEventListener("blur", check);
  show(input, input.dataset.iso || "");
}

/** Set a date field to an ISO day. */
export function setDateField(input, iso) {
  input.dataset.iso = iso;
  input.value = formatDay(iso);
  show(input, iso);
}

/** The field's day as "YYYY-MM-DD", or "" when it is empty or not a date. */
export function dateFieldValue(input) {
  const iso = parseDay(input.value);
  return iso || "";
}

function show(input, iso) {
  input.placeholder = t("date.placeholder");
  const hint = input._hint;
  if (iso === null) {
    input.setAttribute("aria-invalid", "true");
    delete input.dataset.iso;
    if (hint) (hint.textContent = t("date.invalid"), hint.classList.add("bad"));
    return;
  }
  input.removeAttribute("aria-invalid");
  if (hint) (hint.textContent = iso ? longDay(iso) : t("date.format"), hint.classList.remove("bad"));
}

onLangChange(() => {
  for (const input of fields) {
    const iso = input.dataset.iso;
    if (iso) setDateField(input, iso);
    else show(input, input.value.trim() ? null : "");
  }
});
