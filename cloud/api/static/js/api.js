// The API client: one fetch wrapper, the session token, and the live stream.
//
// The access token lives in sessionStorage (gone when the tab closes) and expires in
// minutes; a 401 trades the refresh token (an HttpOnly cookie) for a new one. Every error body is
// problem+json (RFC 9457) and is thrown as ApiError {status, title, detail, errors}.
// Every money-moving POST carries an Idempotency-Key, kept per action so a retry of the
// same click cannot move money twice.
const TOKEN_KEY = "salinmas.token";
const WHO_KEY = "salinmas.who";

/** The API is same-origin (it serves these pages); paths below are absolute. */
export const API_BASE = "";

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || "";
    this.detail = problem.detail || "";
    this.errors = problem.errors || [];
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The logged-in principal as the login answered it (role, name, ids). */
export function who() {
  try {
    return JSON.parse(sessionStorage.getItem(WHO_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(accessToken, principal) {
  sessionStorage.setItem(TOKEN_KEY, accessToken);
  sessionStorage.setItem(WHO_KEY, JSON.stringify(principal));
}

export function clearSession() {
  const tok = token();
  if (tok) {
    // end the login on the server too (its refresh token stops working); best effort
    fetch(API_BASE + "/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${tok}` } }).catch(() => {});
  }
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(WHO_KEY);
}

const unauthorizedHandlers = new Set();
/** Called when the API answers 401 to an authenticated call (expired token). */
export function onUnauthorized(fn) {
  unauthorizedHandlers.add(fn);
}

/**
 * Call the API. `path` starts with "/api/...". Options: method, body (JSON), file (a File
 * or Blob sent as the raw body, e.g. an import), query (object), idempotencyKey, auth
 * (default true), raw (return the Response).
 */
export async function api(path, { method = "GET", body, file, query, idempotencyKey, auth = true, raw = false, retried = false } = {}) {
  const url = new URL(API_BASE + path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
    else url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (file !== undefined) headers["Content-Type"] = file.type || "application/octet-stream";
  if (auth && token()) headers.Authorization = `Bearer ${token()}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let res;
  try {
    res = await fetch(url, { method, headers, body: file !== undefined ? file : body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { detail: String(e) });
  }
  if (res.status === 401 && auth && token() && !retried && (await refreshSession())) {
    return api(path, { method, body, file, query, idempotencyKey, auth, raw, retried: true });
  }
  if (raw) return res;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && auth && token()) for (const fn of unauthorizedHandlers) fn();
    throw new ApiError(res.status, data || {});
  }
  return data;
}

let refreshing = null;
/**
 * Access tokens live minutes: trade the refresh token (an HttpOnly cookie the login set)
 * for a new pair, once for all callers waiting at the same moment. True if it worked.
 */
function refreshSession() {
  refreshing ||= fetch(API_BASE + "/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
  })
    .then(async (res) => {
      if (!res.ok) return false;
      const tok = await res.json();
      saveSession(tok.access_token, { ...(who() || {}), expires_at: tok.refresh_expires_at });
      return true;
    })
    .catch(() => false)
    .finally(() => setTimeout(() => (refreshing = null), 0));
  return refreshing;
}

// ------------------------------------------------------------------ live stream

/**
 * Subscribe to the live stream (server-sent events). This is the ONE place the pages
 * open an EventSource: how the stream is authenticated (a single-use stream ticket in
 * the URL, never the token) changes here and nowhere else. The API sends each caller
 * only the events within its reach: an operator its site's, a household its own (the
 * household page still keeps only its own, and checks on a timer while the stream is
 * not open). `handlers` maps an event
 * name ("weighin", "fill", "alert", ...) to a function of the parsed data. `onState`
 * gets "connecting" | "open" | "error". EventSource retries by itself after a network
 * error; when the server closes the stream for good (e.g. the token expired) we
 * reconnect with backoff, at most every 30 s, and give up on a 401/403.
 * Returns {close()}.
 */
export function liveStream(path, handlers, onState = () => {}) {
  let es = null;
  let closed = false;
  let delay = 1000;
  let timer = null;

  async function connect() {
    if (closed) return;
    onState("connecting");
    // a single-use ticket opens the stream (no token in the URL); a new one per connection
    let ticket;
    try {
      ticket = (await api("/api/v1/auth/stream-ticket", { method: "POST" })).ticket;
    } catch (err) {
      if (err.status === 401 || err.status === 403) return; // logged out: handlers ran
      onState("error");
      schedule();
      return;
    }
    if (closed) return;
    const url = new URL(API_BASE + path, window.location.origin);
    url.searchParams.set("ticket", ticket);
    es = new EventSource(url);
    // the server ends the stream when the login is no longer valid: reconnect (a new
    // ticket re-checks the login; a 401 there goes back to the login form)
    es.addEventListener("end", () => {
      es.close();
      onState("error");
      schedule();
    });
    es.onopen = () => {
      delay = 1000;
      onState("open");
    };
    es.onerror = () => {
      if (closed) return;
      // the browser's own retry would reuse the spent ticket: always reconnect ourselves
      onState("error");
      es.close();
      schedule();
    };
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (ev) => {
        let data = null;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        fn(data, ev);
      });
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (es) es.close();
    },
  };
}
