// The public verification page: a receipt's code -> the signed record behind it.
//
// No login, no personal data: GET /api/v1/public/verify/{code} answers the record (station,
// time, weight, category, price, amount, raw frames, signature and chain) and whether it
// matches the ledger, or 404 "no such code". The code may come in the URL (#CODE or ?code=).
import { $, dateTime, fill, h, kg, rupiah } from "./util.js";

function codeFromUrl() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
  return hash || new URLSearchParams(location.search).get("code") || "";
}

function row(label, value, attrs = {}) {
  return [h("dt", { text: label }), h("dd", { ...attrs, text: value == null ? "—" : String(value) })];
}

function show(r) {
  const ok = r.signature_valid && r.matches_ledger && r.status === "credited" && !r.reversed;
  $("#verdict").textContent = ok
    ? "Sah · Valid"
    : r.matches_ledger ? "Tercatat, lihat status · Recorded, see status" : "Tidak cocok · Does not match";
  $("#verdict").dataset.verdict = ok ? "valid" : "attention";
  const status = $("#status");
  status.textContent = r.reversed ? "reversed" : r.status;
  status.className = `badge ${r.status === "credited" && !r.reversed ? "ok" : r.status === "held" ? "warn" : "bad"}`;
  fill($("#record"),
    ...row("Kode · Code", r.code, { "data-field": "code" }),
    ...row("Stasiun · Station", r.site ? `${r.station} (${r.site})` : r.station, { "data-field": "station" }),
    ...row("Waktu timbang · Weighed at", dateTime(r.weighed_at), { "data-field": "weighed_at" }),
    ...row("Berat bersih · Net weight", kg(r.net_g, 3), { "data-field": "net" }),
    ...row("Kategori · Category", r.category_name_id ? `${r.category_name_id} / ${r.category_name_en}` : r.category, { "data-field": "category" }),
    ...row("Harga · Price", r.price_rp_per_kg == null ? null : `${rupiah(r.price_rp_per_kg)}/kg`, { "data-field": "price" }),
    ...row("Jumlah · Amount", rupiah(r.amount_rp), { "data-field": "amount" }),
    ...row("Tanda tangan stasiun · Station signature", r.signed ? (r.signature_valid ? "sah · valid" : "TIDAK SAH · INVALID") : "tanpa tanda tangan · unsigned", { "data-field": "signature" }),
    ...row("Kunci · Key", r.key_id ? `${r.key_id} (${r.key_status})` : null),
    ...row("Posisi rantai · Chain position", r.chain_pos, { "data-field": "chain_pos" }),
    ...row("Buku besar · Ledger", `${r.matches_ledger ? "cocok · matches" : "TIDAK COCOK · MISMATCH"}: ${r.ledger}`, { "data-field": "ledger" }),
    ...(r.reason ? row("Alasan · Reason", r.reason) : []),
  );
  fill($("#frames"), ...r.frames.map((f) => h("li", { title: f.hex, text: f.text })));
  $("#chain").textContent = r.record_hash
    ? `record ${r.record_hash.slice(0, 16)}… ← prev ${r.prev_hash.slice(0, 16)}… · software ${r.sw_hash.slice(0, 12)}… · config ${r.config_hash.slice(0, 12)}…`
    : "";
  const qr = $("#qr");
  qr.src = `/api/v1/public/verify/${encodeURIComponent(r.code)}/qr.svg`;
  qr.hidden = false;
  $("#result").hidden = false;
}

async function check(code) {
  const err = $("#verify-error");
  err.textContent = "";
  $("#result").hidden = true;
  if (!code.trim()) return;
  const res = await fetch(`/api/v1/public/verify/${encodeURIComponent(code.trim())}`);
  if (res.status === 404) {
    err.textContent = "Kode tidak ditemukan · Code not found";
    err.dataset.state = "not-found";
    return;
  }
  if (res.status === 429) {
    err.textContent = "Terlalu banyak percobaan, coba lagi nanti · Too many tries, try again in a minute";
    return;
  }
  if (!res.ok) {
    err.textContent = `Error ${res.status}`;
    return;
  }
  err.dataset.state = "found";
  show(await res.json());
}

$("#verify-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = $("#code").value;
  history.replaceState(null, "", `#${encodeURIComponent(code.trim())}`);
  check(code);
});

const initial = codeFromUrl();
if (initial) {
  $("#code").value = initial;
  check(initial);
}
