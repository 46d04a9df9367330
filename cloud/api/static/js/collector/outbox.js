// Completions made at doors wait on the phone until the API has them.
//
// A completion is queued with its own event id and one per bag ({phone_id}:{seq}, from
// store.js) *before* anything is sent, so a completion made without signal, or whose
// answer was lost, is sent again as the same one: the API credits each event id once
// and answers a repeat with the first answer. Items stay in IndexedDB:
//   queued   not yet answered (sent again on every chance)
//   sent     answered 200/201 (kept a day, to show what was paid)
//   refused  answered 4xx (kept for the operator: it is never dropped silently)
// A 401 stops sending until the collector logs in again; network errors and 5xx leave
// the item queued.
import { api, ApiError } from "../api.js";
import { nextSeqs, outbox, phoneId, putOutbox, dropOutbox, getMeta, setMeta } from "./store.js";

const KEEP_SENT_MS = 36 * 3600 * 1000;
/** The phone's clock counts as synchronised when it was within this of the server's. */
const CLOCK_TOLERANCE_MS = 60_000;
const CLOCK_CHECK_VALID_MS = 24 * 3600 * 1000;
const BOOT_ID = crypto.randomUUID ? crypto.randomUUID() : "00000000-0000-4000-8000-" + String(Date.now()).padStart(12, "0").slice(-12);

let sending = null;

/**
 * Compare the phone's clock with the server's (the Date header of a small request);
 * kept in IndexedDB. Returns whether the phone's clock is to be trusted now.
 */
export async function checkClock() {
  try {
    const sent = Date.now();
    const res = await fetch("/api/v1/health", { cache: "no-store" });
    const back = Date.now();
    const server = Date.parse(res.headers.get("date") || "");
    if (res.ok && Number.isFinite(server)) {
      // the Date header has whole seconds: allow for that and the round trip
      const skew = (sent + back) / 2 - (server + 500);
      await setMeta("clock", { at: back, skew_ms: Math.round(skew) });
    }
  } catch {
    // no signal: the last check stands
  }
  return clockSynced();
}

export async function clockSynced() {
  const c = await getMeta("clock");
  return !!c && Date.now() - c.at < CLOCK_CHECK_VALID_MS && Math.abs(c.skew_ms) < CLOCK_TOLERANCE_MS;
}

/**
 * Queue a completion of `pickup` (lines: [{category, net_g, entry, scale, frames,
 * photo, photo_type, note}]); returns the stored item. Nothing is sent here.
 */
export async function queueCompletion({ pickup, collectorId, lines, payment, note, position, estimateRp }) {
  const [seq, ...lineSeqs] = await nextSeqs(lines.length + 1);
  const phone = await phoneId();
  const now = new Date().toISOString();
  const body = {
    phone_id: phone,
    seq,
    completed_at: now,
    clock_synced: await clockSynced(),
    boot_id: BOOT_ID,
    mono_ms: Math.round(performance.now()),
    payment,
    note: note || undefined,
    lat: position ? position.lat : undefined,
    lon: position ? position.lon : undefined,
    user_agent: navigator.userAgent.slice(0, 200),
    lines: lines.map((l, i) => ({
      seq: lineSeqs[i],
      category: l.category,
      net_g: l.net_g,
      weighed_at: l.weighed_at || now,
      entry: l.entry || "typed",
      scale: l.scale || undefined,
      division_g: l.division_g || 1,
      frames: l.frames || [],
      note: l.note || undefined,
      photo: l.photo || undefined,
      photo_type: l.photo ? l.photo_type || "image/jpeg" : undefined,
    })),
  };
  const item = {
    event_id: `${phone}:${seq}`,
    pickup_id: pickup.pickup_id,
    collector_id: collectorId,
    title: pickup.household_name || pickup.bin_name || `#${pickup.pickup_id}`,
    created_at: now,
    status: "queued",
    attempts: 0,
    estimate_rp: estimateRp,
    body,
  };
  await putOutbox(item);
  return item;
}

/** Items of this collector still waiting (queued), and all of today's (for display). */
export async function outboxState(collectorId) {
  const all = (await outbox()).filter((i) => i.collector_id === collectorId);
  return { waiting: all.filter((i) => i.status === "queued"), all };
}

/**
 * Send every queued item of `collectorId`, oldest first (one sender at a time).
 * Returns {sent, failed, needLogin}. `onChange()` is called after each answer.
 */
export function sendQueued(collectorId, onChange = () => {}) {
  if (sending) return sending;
  sending = (async () => {
    const out = { sent: 0, failed: 0, needLogin: false };
    try {
      const items = (await outbox()).filter((i) => i.collector_id === collectorId);
      for (const item of items) {
        if (item.status === "sent" && Date.now() - Date.parse(item.created_at) > KEEP_SENT_MS) {
          await dropOutbox(item.event_id);
          continue;
        }
        if (item.status !== "queued") continue;
        item.attempts += 1;
        item.last_try = new Date().toISOString();
        try {
          item.result = await api(`/api/v1/pickups/${item.pickup_id}/doorstep`, { method: "POST", body: item.body });
          item.status = "sent";
          item.sent_at = new Date().toISOString();
          out.sent += 1;
        } catch (err) {
          const status = err instanceof ApiError ? err.status : 0;
          item.last_error = String(err.detail || err.message || err);
          if (status === 401) {
            out.needLogin = true;
            await putOutbox(item);
            break;
          }
          if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
            item.status = "refused";
            out.failed += 1;
          } else {
            await putOutbox(item);
            break; // no signal or the server is away: the rest waits too
          }
        }
        await putOutbox(item);
        onChange();
      }
    } finally {
      sending = null;
    }
    return out;
  })();
  return sending;
}
