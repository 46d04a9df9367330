// Which views of the operator page each staff role opens. The API decides what each role
// may read and do (cloud/api/deps.py: Counter, CounterReader, SiteReader, ...); this only
// leaves out the views a role would find refused. A cashier works the counter: households
// (balance, payouts to pay, what is owed) and the cash box; the overview, the board and
// the rest are read with SiteReader, which a cashier is not. An operator runs a site but
// does not read the programme's audit log (ProgrammeReader). The auditor reads every view
// and changes nothing: every control that writes carries `data-writes`, which the page
// hides for the auditor (css/app.css), as the API refuses the auditor's writes.
import { $$ } from "../util.js";

const OPERATOR_VIEWS = ["overview", "pickups", "charts", "households", "weighins", "directory",
  "prices", "device-admin", "cashbox", "stock", "cases"];

/** role -> the views it opens, in the menu's order; null: every view */
const VIEWS_OF_ROLE = {
  admin: null,
  auditor: null,
  operator: OPERATOR_VIEWS,
  cashier: ["households", "cashbox"],
};

/** The roles that may open the operator page. */
export const PAGE_ROLES = Object.keys(VIEWS_OF_ROLE);

let role = null;

/** Whether the signed-in role opens `view`. */
export function opens(view) {
  const views = role ? VIEWS_OF_ROLE[role] : null;
  return views == null || views.includes(view);
}

/** The view shown when the address names none (or one the role does not open). */
export function firstView() {
  const views = role ? VIEWS_OF_ROLE[role] : null;
  return views == null ? "overview" : views[0];
}

/** Whether the signed-in role sees the overview (and so the live figures behind it). */
export function seesOverview() {
  return opens("overview");
}

/** Remember the signed-in role and show only its views in the menu. */
export function applyRole(who) {
  role = who && who.role ? who.role : null;
  document.body.dataset.role = role || "";
  for (const a of $$("nav.tabs a")) a.hidden = !opens(a.getAttribute("href").slice(1));
}
