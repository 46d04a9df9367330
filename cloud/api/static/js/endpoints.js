// Every API route the pages use, in one place (paths follow cloud/api/routes/*).
import { api, ApiError, liveStream } from "./api.js";

const V = "/api/v1";

export const E = {
  // auth
  login: (username, password) => api(`${V}/auth/login`, { method: "POST", body: { username, password }, auth: false }),
  householdLogin: (member_no, pin) => api(`${V}/auth/household-login`, { method: "POST", body: { member_no, pin }, auth: false }),
  me: () => api(`${V}/auth/me`),
  uiConfig: () => api(`${V}/ui-config`),

  // overview
  // the operational lists, one page {items, total, total_exact, limit, offset} at a time
  // (filters as in cloud/api/routes/{bins,devices,pickups,weighins}.py; js/util.js pager)
  /** A page of the bins within reach ({site_id, full, fault, bbox}). */
  bins: (query = {}, offset = 0, limit = 50) => api(`${V}/bins`, { query: { ...query, limit, offset } }),
  /** The overview's figures per site and per kecamatan: {day, total, areas, sites}. */
  overview: () => api(`${V}/overview`),
  /** The live feed's latest weigh-ins (a bare list, newest first). */
  weighins: (query = {}) => api(`${V}/weighins`, { query: { limit: 50, ...query } }),
  /** A page of weigh-ins ({status, site_id, device_id, household_id, member_no, since, until}). */
  weighinPage: (query = {}, offset = 0, limit = 25) => api(`${V}/weighins`, { query: { ...query, limit, offset } }),
  /** A page of devices ({site_id, kind, online, revoked, bbox}). */
  devices: (query = {}, offset = 0, limit = 50) => api(`${V}/devices`, { query: { ...query, limit, offset } }),
  alerts: (query = {}) => api(`${V}/alerts`, { query }),
  ackAlert: (id) => api(`${V}/alerts/${id}/acknowledge`, { method: "POST" }),
  deadLetterCounts: (since) => api(`${V}/dead-letters/counts`, { query: { since } }),
  deadLetters: (query = {}) => api(`${V}/dead-letters`, { query: { limit: 20, ...query } }),
  categories: () => api(`${V}/categories`),
  assignWeighin: (id, household_id, key) => api(`${V}/weighins/${id}/assign`, { method: "POST", body: { household_id }, idempotencyKey: key }),
  /** A CSV report as a Blob: kind "weighins" | "payouts", days YYYY-MM-DD (inclusive). */
  reportCsv: async (kind, from, to) => {
    const res = await api(`${V}/reports/${kind}.csv`, { query: { from, to }, raw: true });
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({})));
    return res.blob();
  },

  // pickups
  /** A page of the pickup board ({status, site_id, collector_id, completed_since}). */
  pickups: (query = {}, offset = 0, limit = 25) => api(`${V}/pickups`, { query: { ...query, limit, offset } }),
  collectors: () => api(`${V}/users`, { query: { role: "collector" } }),
  pickup: (id) => api(`${V}/pickups/${id}`),
  assignPickup: (id, collector_id) => api(`${V}/pickups/${id}/assign`, { method: "POST", body: { collector_id } }),
  completePickup: (id, collected_g, note) => api(`${V}/pickups/${id}/complete`, { method: "POST", body: { collected_g, note: note || undefined } }),
  myPickups: (collectorId) => api(`${V}/collectors/${collectorId}/pickups`, { query: { include_done: true } }),
  cancelPickup: (id, reason) => api(`${V}/pickups/${id}/cancel`, { method: "POST", body: { reason } }),
  // JEKNYONG: routes (completions at the door are sent by js/collector/outbox.js)
  collectorRoute: (collectorId) => api(`${V}/collectors/${collectorId}/route`),
  collectorFloat: (collectorId) => api(`${V}/collectors/${collectorId}/float`),
  issueFloat: (collectorId, amount_rp, key) => api(`${V}/collectors/${collectorId}/float`, { method: "POST", body: { amount_rp }, idempotencyKey: key }),
  backAtDepot: (collectorId, body, key) => api(`${V}/collectors/${collectorId}/depot`, { method: "POST", body, idempotencyKey: key }),
  siteRoutes: (siteId) => api(`${V}/sites/${siteId}/routes`),
  planRoutes: (siteId) => api(`${V}/sites/${siteId}/routes/plan`, { method: "POST" }),
  sites: () => api(`${V}/sites`),

  // households and money
  /** One page {items, total, total_exact, limit, offset} of the households matching q. */
  households: (q, offset = 0) => api(`${V}/households`, { query: { q, limit: 25, offset } }),
  household: (id) => api(`${V}/households/${id}`),
  balance: (id) => api(`${V}/households/${id}/balance`),
  statement: (id) => api(`${V}/households/${id}/statement`),
  payouts: (id) => api(`${V}/households/${id}/payouts`),
  requestPayout: (id, amount_rp, key) => api(`${V}/households/${id}/payouts`, { method: "POST", body: { amount_rp }, idempotencyKey: key }),
  approvePayout: (id, key) => api(`${V}/payouts/${id}/approve`, { method: "POST", idempotencyKey: key }),
  rejectPayout: (id, reason, key) => api(`${V}/payouts/${id}/reject`, { method: "POST", body: { reason }, idempotencyKey: key }),
  payPayout: (id, key) => api(`${V}/payouts/${id}/pay`, { method: "POST", idempotencyKey: key }),
  payoutsByStatus: (status) => api(`${V}/payouts`, { query: { status } }),
  receivables: () => api(`${V}/receivables`),
  owed: (id) => api(`${V}/households/${id}/receivable`),
  householdPickups: (id) => api(`${V}/households/${id}/pickups`),
  inbox: (id) => api(`${V}/households/${id}/inbox`, { query: { limit: 20 } }),
  readInbox: (id) => api(`${V}/households/${id}/inbox/read`, { method: "POST", body: {} }),
  notifications: (query) => api(`${V}/notifications`, { query }),
  notificationCounters: () => api(`${V}/notifications/counters`),
  resendNotification: (id) => api(`${V}/notifications/${id}/resend`, { method: "POST" }),
  requestHouseholdPickup: (id, body) => api(`${V}/households/${id}/pickups`, { method: "POST", body }),

  // telemetry
  fillHistory: (binId, start) => api(`${V}/telemetry/bins/${encodeURIComponent(binId)}/fill`, { query: { start } }),
  /** kg and rupiah per category per local day: [{day, category, net_g, amount_rp, weighins}] */
  categoryDays: (start) => api(`${V}/telemetry/category-days`, { query: { start } }),

  // administration (js/admin/*): paged lists answer {items, total, limit, offset}
  sites: () => api(`${V}/sites`),
  directory: (query = {}) => api(`${V}/directory/households`, { query: { limit: 25, ...query } }),
  updateHousehold: (id, changes) => api(`${V}/households/${id}`, { method: "PATCH", body: changes }),
  deactivateHousehold: (id) => api(`${V}/households/${id}/deactivate`, { method: "POST" }),
  /** Check (dryRun) or import a household list; resolves to {status, report} (409 = refused). */
  importHouseholds: async (file, dryRun) => {
    const res = await api(`${V}/imports/households`, { method: "POST", file, query: { filename: file.name, dry_run: dryRun }, raw: true });
    const report = await res.json().catch(() => ({}));
    if (!res.ok && res.status !== 409) throw new ApiError(res.status, report);
    return { status: res.status, report };
  },
  priceChanges: (query = {}) => api(`${V}/price-changes`, { query: { limit: 50, ...query } }),
  proposePrice: (body) => api(`${V}/price-changes`, { method: "POST", body }),
  approvePrice: (id) => api(`${V}/price-changes/${id}/approve`, { method: "POST" }),
  rejectPrice: (id, reason) => api(`${V}/price-changes/${id}/reject`, { method: "POST", body: { reason } }),
  provisionDevice: (body) => api(`${V}/devices`, { method: "POST", body }),
  revokeDevice: (id) => api(`${V}/devices/${encodeURIComponent(id)}/revoke`, { method: "POST" }),
  configLink: (id) => api(`${V}/devices/${encodeURIComponent(id)}/config-link`, { method: "POST" }),
  cashDay: (siteId, day) => api(`${V}/cashbox/${siteId}/${day}`),
  cashDays: (query = {}) => api(`${V}/cashbox`, { query: { limit: 10, ...query } }),
  openCash: (siteId, day, opening_float_rp) => api(`${V}/cashbox/${siteId}/${day}/open`, { method: "POST", body: { opening_float_rp } }),
  cashMovement: (siteId, day, body) => api(`${V}/cashbox/${siteId}/${day}/movements`, { method: "POST", body }),
  closeCash: (siteId, day, counted_rp, reason) => api(`${V}/cashbox/${siteId}/${day}/close`, { method: "POST", body: { counted_rp, reason: reason || undefined } }),
  reopenCash: (siteId, day, reason) => api(`${V}/cashbox/${siteId}/${day}/reopen`, { method: "POST", body: { reason } }),
  audit: (query = {}) => api(`${V}/audit`, { query: { limit: 50, ...query } }),
  // stock, sales, mass balance, fraud cases (routes/stock.py, massbalance.py, cases.py, programme.py)
  stock: (site_id) => api(`${V}/stock`, { query: { site_id } }),
  sales: (query = {}) => api(`${V}/sales`, { query }),
  createSale: (body, key) => api(`${V}/sales`, { method: "POST", body, idempotencyKey: key }),
  recordLoss: (body, key) => api(`${V}/stock/losses`, { method: "POST", body, idempotencyKey: key }),
  recordCount: (body, key) => api(`${V}/stock/counts`, { method: "POST", body, idempotencyKey: key }),
  massBalance: (query = {}) => api(`${V}/mass-balance`, { query }),
  cases: (query = {}) => api(`${V}/cases`, { query }),
  decideCase: (id, action, note, key) => api(`${V}/cases/${id}/${action}`, { method: "POST", body: { note }, idempotencyKey: key }),
  fraudRules: () => api(`${V}/fraud-rules`),
  payoutHolds: () => api(`${V}/payout-holds`),
  /** The monthly programme report as an HTML Blob (month "YYYY-MM"). */
  programmeReport: async (month, lang, site_id) => {
    const res = await api(`${V}/reports/programme.html`, { query: { month, lang, site_id }, raw: true });
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({})));
    return res.blob();
  },

  // live
  stream: (handlers, onState) => liveStream(`${V}/stream`, handlers, onState),
};
