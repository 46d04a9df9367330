// What the collector's phone keeps without signal, in IndexedDB (through idb, vendored):
//   meta    the phone's own id, its sequence counter, the clock check, the session
//   cache   the day's route, categories and prices, the map settings (last answers)
//   outbox  completions made at doors, with their event ids, until the API has them
//
// Event ids are "{phone_id}:{seq}". The counter only grows, in the same database as the
// id: if the browser's storage is wiped, both go and the phone gets a new id, so an
// event id is never made twice.
import { openDB } from "../../vendor/idb/index.js";

const DB_NAME = "salinmas-collector";
let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = openDB(DB_NAME, 1, {
      upgrade(d) {
        d.createObjectStore("meta");
        d.createObjectStore("cache");
        d.createObjectStore("outbox", { keyPath: "event_id" });
      },
    });
  }
  return dbPromise;
}

function randomId(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...crypto.getRandomValues(new Uint8Array(n))].map((b) => alphabet[b % 36]).join("");
}

/** The phone's own id ("ph-" + 16 random characters), made on first use. */
export async function phoneId() {
  const d = await db();
  const tx = d.transaction("meta", "readwrite");
  let id = await tx.store.get("phone_id");
  if (!id) {
    id = `ph-${randomId(16)}`;
    await tx.store.put(id, "phone_id");
  }
  await tx.done;
  return id;
}

/** `n` fresh sequence numbers (never handed out before on this phone). */
export async function nextSeqs(n) {
  const d = await db();
  const tx = d.transaction("meta", "readwrite");
  const last = (await tx.store.get("seq")) || 0;
  await tx.store.put(last + n, "seq");
  await tx.done;
  return Array.from({ length: n }, (_, i) => last + 1 + i);
}

export async function getMeta(key) {
  return (await db()).get("meta", key);
}

export async function setMeta(key, value) {
  return (await db()).put("meta", value, key);
}

export async function deleteMeta(key) {
  return (await db()).delete("meta", key);
}

/** The last answer kept under `key` ({at, value}), or undefined. */
export async function cached(key) {
  return (await db()).get("cache", key);
}

export async function keep(key, value) {
  return (await db()).put("cache", { at: new Date().toISOString(), value }, key);
}

/** Every completion on the phone (waiting, sent today, or refused), oldest first. */
export async function outbox() {
  const all = await (await db()).getAll("outbox");
  return all.sort((a, b) => a.created_at.localeCompare(b.created_at));
}

export async function putOutbox(item) {
  return (await db()).put("outbox", item);
}

export async function dropOutbox(eventId) {
  return (await db()).delete("outbox", eventId);
}
