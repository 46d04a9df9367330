// The administration screens of the operator page (household records and import, prices
// with a second approver, devices, cash box, audit log). Self-contained like
// js/notifications-ops.js: operator.js shows and hides the views; this module loads the
// one shown, when it is shown (and again after a language change).
import "./text.js";
import { $ } from "../util.js";
import { onLangChange } from "../i18n.js";
import { opens } from "../operator/views.js";
import { bindDirectory, showDirectory } from "./directory.js";
import { bindPrices, showPrices } from "./prices.js";
import { bindDevices, showDevices } from "./devices.js";
import { bindCashbox, showCashbox } from "./cashbox.js";
import { bindAudit, showAudit } from "./audit.js";

const VIEWS = {
  directory: showDirectory,
  prices: showPrices,
  "device-admin": showDevices,
  cashbox: showCashbox,
  audit: () => showAudit(0),
};

function current() {
  const view = (location.hash || "").slice(1);
  const main = $("#main");
  return main && !main.hidden && VIEWS[view] && opens(view) ? view : null;
}

function load() {
  const view = current();
  if (view) VIEWS[view]();
}

bindDirectory();
bindPrices();
bindDevices();
bindCashbox();
bindAudit();
window.addEventListener("hashchange", load);
onLangChange(load);
const main = $("#main");
if (main) new MutationObserver(() => !main.hidden && load()).observe(main, { attributes: true, attributeFilter: ["hidden"] });
load();
