// Small helpers shared by every page: DOM building, formatting (Indonesian rupiah,
// kilograms, times in the programme's time zone) and toasts. No dependencies.
import { lang, t } from "./i18n.js";

/** The programme's time zone; days, reports and charts are in this zone. */
export const TIME_ZONE = "Asia/Jakarta";

/**
 * Build an element: h("td", {class: "num", text: "3"}, child, ...).
 * Attribute keys: class, text, html is NOT supported on purpose (no innerHTML), on<event>
 * for listeners, dataset object, anything else via setAttribute (false/null = skip).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** Same as h() for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/**
 * A table that becomes one card per row on a phone (CSS `table.cards`): `columns` are
 * [{label, num}] (num: right-aligned figures), `rows` arrays of cell contents (text or
 * nodes), `rowAttrs(i)` optional attributes per row. Each cell carries its column's
 * label, shown beside the value when the row is a card.
 */
export function cardTable(columns, rows, rowAttrs = () => ({})) {
  return h("table", { class: "cards" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : "", text: c.label })))),
    h("tbody", {}, rows.map((cells, i) => h("tr", rowAttrs(i),
      cells.map((cell, j) => h("td", { class: columns[j].num ? "num" : "", "data-label": columns[j].label }, h("div", { class: "cell" }, cell)))))));
}

/**
 * Previous/next for a server's page {items, total, total_exact, limit, offset}: "1–25 of
 * 7.000", or "1–25 of more than 1.000" when the server counted no further (then "next"
 * stays on while pages come back full). `go(offset)` loads that page.
 */
export function pager(page, go) {
  const from = page.items.length ? page.offset + 1 : 0;
  const to = page.offset + page.items.length;
  const exact = page.total_exact !== false;
  const more = exact ? to < page.total : page.items.length === page.limit;
  return h("div", { class: "row pager", "data-total": page.total, "data-exact": String(exact) },
    h("button", { type: "button", class: "small secondary", text: t("page.prev"), disabled: page.offset === 0,
      onclick: () => go(Math.max(0, page.offset - page.limit)) }),
    h("span", { class: "small muted", text: t(exact ? "page.range" : "page.range_more", { from: num(from), to: num(to), total: num(page.total) }) }),
    h("button", { type: "button", class: "small secondary", text: t("page.next"), disabled: !more,
      onclick: () => go(page.offset + page.limit) }));
}

/**
 * A reload soon, not at once: the returned function runs `work(...args)` `ms` after its
 * first call, calls meanwhile are folded into that one (live events come in bursts);
 * a failure is left to the next call or the page's reconcile to retry.
 */
export function soon(ms, work) {
  let timer = null;
  return (...args) => {
    if (timer) return;
    timer = setTimeout(async () => {
      try {
        await work(...args);
      } catch {
        /* the next call or the reconcile tries again */
      } finally {
        timer = null;
      }
    }, ms);
  };
}

/**
 * The newest answer wins: `const ask = latest();` once per loader, then
 * `const mine = ask();` before a request and `if (!mine()) return;` after it. An older
 * request that answers after a newer one is dropped (a slow "today" must not overwrite
 * the day asked for after it).
 */
export function latest() {
  let n = 0;
  return () => {
    const mine = ++n;
    return () => mine === n;
  };
}

// ------------------------------------------------------------------ numbers and money

const idInt = new Intl.NumberFormat("id-ID", { maximumFractionDigits: 0 });

/** Integer rupiah the Indonesian way: 4500 -> "Rp 4.500", -1200 -> "−Rp 1.200". */
export function rupiah(rp) {
  if (rp === null || rp === undefined || Number.isNaN(Number(rp))) return "–";
  const n = Math.round(Number(rp));
  return (n < 0 ? "−" : "") + "Rp " + idInt.format(Math.abs(n));
}

function numLocale() {
  return lang() === "en" ? "en-GB" : "id-ID";
}

/** Grams as kilograms: 1250 -> "1,25 kg" (id) / "1.25 kg" (en). */
export function kg(grams, digits = 2) {
  if (grams === null || grams === undefined) return "–";
  const f = new Intl.NumberFormat(numLocale(), { minimumFractionDigits: 0, maximumFractionDigits: digits });
  const v = Number(grams) / 1000;
  // what rounds to zero is 0, never "-0" (nothing sold is shown as -0 g otherwise)
  return f.format(Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v) + " kg";
}

/** A plain number in the current language, e.g. percentages. */
export function num(x, digits = 0) {
  if (x === null || x === undefined) return "–";
  return new Intl.NumberFormat(numLocale(), { maximumFractionDigits: digits }).format(Number(x));
}

/** A fill level, rounded down: a bin at 79.6 % is not yet at an 80 % threshold. */
export function pct(x) {
  return x === null || x === undefined ? "–" : `${num(Math.floor(x), 0)} %`;
}

/** Rupiah typed by a person ("50.000", "Rp 50000") as an integer, or null when empty. */
export function parseRupiah(text) {
  const digits = String(text).replace(/\D/g, "");
  return digits ? Number(digits) : null;
}

/** Parse a kg amount typed by a person ("1,5" or "1.5") into integer grams, or null. */
export function parseKgToGrams(text) {
  const clean = String(text).trim().replace(/\s/g, "").replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(clean)) return null;
  const g = Math.round(parseFloat(clean) * 1000);
  return g > 0 ? g : null;
}

// ------------------------------------------------------------------ times

function toDate(v) {
  if (v instanceof Date) return v;
  if (v === null || v === undefined || v === "") return null;
  // The API sends ISO 8601 with an offset; treat a bare timestamp as UTC.
  const str = String(v);
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(str) ? str : str + "Z");
  return Number.isNaN(d.getTime()) ? null : d;
}

function dtf(opts) {
  return new Intl.DateTimeFormat(numLocale(), { timeZone: TIME_ZONE, ...opts });
}

/** "14.05" style clock time in the programme's zone. */
export function clock(v) {
  const d = toDate(v);
  return d ? dtf({ hour: "2-digit", minute: "2-digit", hour12: false }).format(d) : "–";
}

/** "29 Nov 14.05" date and time in the programme's zone. */
export function dateTime(v) {
  const d = toDate(v);
  return d ? dtf({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false }).format(d) : "–";
}

/** "29 Nov 2026" date in the programme's zone. */
export function dateOnly(v) {
  const d = toDate(v);
  return d ? dtf({ day: "numeric", month: "short", year: "numeric" }).format(d) : "–";
}

/** YYYY-MM-DD of a time in the programme's zone (for "today" comparisons). */
export function localDay(v) {
  const d = toDate(v);
  if (!d) return "";
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** The programme zone's offset from UTC at `date`, in milliseconds (+7 h for WIB). */
export function zoneOffsetMs(date) {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, timeZoneName: "longOffset" })
    .formatToParts(date).find((p) => p.type === "timeZoneName").value; // "GMT+07:00" or "GMT"
  const match = /GMT([+-])(\d\d):?(\d\d)?/.exec(name);
  return match ? (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3] || 0)) * 60000 : 0;
}

/** The UTC instant at which local day "YYYY-MM-DD" starts in the programme's zone (ISO). */
export function dayStartUtc(day) {
  const [y, m, d] = day.split("-").map(Number);
  // the zone's offset at noon UTC of that day (no zone changes offset around midnight)
  const offset = zoneOffsetMs(new Date(Date.UTC(y, m - 1, d, 12)));
  return new Date(Date.UTC(y, m - 1, d) - offset).toISOString();
}

/** "5 min ago" / "in 2 h" relative to now. */
export function relative(v, now = Date.now()) {
  const d = toDate(v);
  if (!d) return "–";
  const rtf = new Intl.RelativeTimeFormat(lang() === "en" ? "en" : "id", { numeric: "auto" });
  const sec = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(sec);
  if (abs < 60) return rtf.format(sec, "second");
  if (abs < 3600) return rtf.format(Math.round(sec / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(sec / 3600), "hour");
  return rtf.format(Math.round(sec / 86400), "day");
}

export { toDate };

// ------------------------------------------------------------------ fill colour class

/** CSS class of a fill level: fill-0 (< 50 %) .. fill-3 (>= 95 %), fill-none (unknown). */
export function fillClass(p) {
  if (p === null || p === undefined) return "fill-none";
  if (p >= 95) return "fill-3";
  if (p >= 80) return "fill-2";
  if (p >= 50) return "fill-1";
  return "fill-0";
}

// ------------------------------------------------------------------ toasts

export function toast(message, kind = "") {
  let region = document.querySelector(".toast-region");
  if (!region) {
    region = h("div", { class: "toast-region", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  const el = h("div", { class: `toast ${kind}`, text: message });
  region.append(el);
  setTimeout(() => el.remove(), 4000);
}

/** A human message for an API error (problem+json detail or title), translated where known. */
export function errorText(err) {
  if (err && err.status === 401) return t("err.login");
  if (err && err.status === 429) return t("err.throttled");
  if (err && err.status === 0) return t("err.network");
  const detail = err && (err.detail || err.title || err.message);
  return detail ? String(detail) : t("err.generic");
}

/** A random key for the Idempotency-Key header of one money-moving action. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// ------------------------------------------------------------------ pickups

/**
 * Visiting order: overdue first (the most overdue first), then by due time, higher
 * priority first on a tie, undated last.
 */
export function visitOrder(list, now = Date.now()) {
  const due = (p) => (p.due_at ? toDate(p.due_at).getTime() : Infinity);
  return [...list].sort((a, b) => {
    const ao = due(a) < now;
    const bo = due(b) < now;
    if (ao !== bo) return ao ? -1 : 1;
    return due(a) - due(b) || (b.priority || 0) - (a.priority || 0) || a.id - b.id;
  });
}
