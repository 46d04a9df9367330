// The collector's page (phone first): today's pickups in visiting order, each marked
// done with the weight collected. Re-reads the list every POLL_MS while visible.
import { E } from "./endpoints.js";
import { initShell } from "./shell.js";
import { lang, onLangChange, t } from "./i18n.js";
import { $, h, fill, kg, dateTime, relative, localDay, toDate, parseKgToGrams, toast, errorText, visitOrder } from "./util.js";

const POLL_MS = 15000;
let me = null;
let pickups = [];
let categories = new Map();

function categoryName(code) {
  const c = categories.get(code);
  return c ? (lang() === "en" ? c.name_en : c.name_id) : code;
}

function title(p) {
  if (p.bin_id) return p.bin_name || t("col.bin", { id: p.bin_id });
  if (p.household_name) return `${p.household_name}${p.member_no ? " (" + p.member_no + ")" : ""}`;
  return `${t("pickups.kind.household")} #${p.household_id}`;
}

function stop(p, index) {
  const overdue = p.due_at && toDate(p.due_at) < new Date();
  const inputId = `w-${p.id}`;
  const weight = h("input", { id: inputId, inputmode: "decimal", autocomplete: "off", placeholder: "0,0" });
  const form = h("form", { class: "row", onsubmit: async (ev) => {
    ev.preventDefault();
    const grams = parseKgToGrams(weight.value);
    if (grams === null) {
      toast(t("pickups.weight_invalid"), "bad");
      weight.focus();
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await E.completePickup(p.id, grams);
      toast(t("pickups.completed_ok"));
      await load();
    } catch (err) {
      toast(errorText(err), "bad");
      button.disabled = false;
    }
  } },
  h("div", {}, h("label", { for: inputId, text: t("col.weight") }), weight),
  h("button", { type: "submit", text: t("col.mark_done") }));
  return h("li", { class: "stop", "data-pickup": p.id, "data-status": p.status },
    h("div", { class: "title" }, h("span", { class: "order", "aria-hidden": "true", text: String(index + 1) }), h("strong", { text: title(p) }),
      overdue ? h("span", { class: "badge bad", text: t("pickups.overdue"), style: "margin-left:.4rem" }) : null),
    p.address ? h("div", { text: `${t("col.address")}: ${p.address}` }) : null,
    p.phone ? h("div", {}, h("a", { href: `tel:${p.phone.replace(/[^\d+]/g, "")}`, text: `${t("col.call")} ${p.phone}` })) : null,
    p.lat != null && p.lon != null ? h("div", {}, h("a", { href: `geo:${p.lat},${p.lon}`, text: t("col.map") })) : null,
    h("div", { class: "small muted", text: [p.bin_id || p.household_name ? t(`pickups.kind.${p.kind}`) : null, p.category_code ? categoryName(p.category_code) : null,
      p.due_at ? t("pickups.due", { when: `${dateTime(p.due_at)} (${relative(p.due_at)})` }) : null].filter(Boolean).join(" · ") }),
    p.note ? h("div", { class: "small", text: `“${p.note}”` }) : null,
    form);
}

function render() {
  const open = visitOrder(pickups.filter((p) => p.status === "open" || p.status === "assigned"));
  const today = localDay(new Date());
  const done = pickups.filter((p) => p.status === "done" && localDay(p.completed_at) === today);
  fill($("#stops"), open.length ? open.map(stop) : h("li", { class: "empty", text: t("col.none") }));
  fill($("#done"), done.length
    ? done.map((p) => h("li", { class: "stop done", "data-pickup": p.id, "data-status": "done" },
        h("div", {}, h("strong", { text: title(p) }), " ", h("span", { class: "badge ok", text: t("home.request.status.done") })),
        h("div", { class: "small muted", text: t("pickups.completed", { when: dateTime(p.completed_at), kg: kg(p.collected_g) }) })))
    : h("li", { class: "empty", text: t("pickups.none") }));
}

async function load() {
  if (!me) return;
  try {
    pickups = await E.myPickups(me.id);
    render();
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

$("#refresh").addEventListener("click", load);
onLangChange(render);

initShell({
  roles: ["collector"],
  login: (form) => E.login(String(form.get("username")).trim(), String(form.get("password"))),
  start: async (who) => {
    me = who;
    categories = new Map((await E.categories().catch(() => [])).map((c) => [c.code, c]));
    await load();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") load();
    }, POLL_MS);
    return () => {
      clearInterval(timer);
      me = null;
      pickups = [];
    };
  },
});
