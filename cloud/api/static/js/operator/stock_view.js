// The markup of the stock and cases views, built once into their (empty) sections of
// index.html; text comes from data-i18n keys (stock_strings.js), so the language
// toggle re-translates it like the rest of the page.
import { h } from "../util.js";
import { translate } from "../i18n.js";

const i18n = (key) => ({ "data-i18n": key });

function field(id, key, control) {
  return h("div", {}, h("label", { for: id, ...i18n(key) }), control);
}

function select(id, options = [], attrs = {}) {
  return h("select", { id, ...attrs }, options.map(([value, key]) => h("option", { value, ...i18n(key) })));
}

function input(id, attrs = {}) {
  return h("input", { id, autocomplete: "off", ...attrs });
}

/** A day typed dd/mm/yyyy (bound by datefield.js), with the day in words under it. */
function dateField(id, key) {
  return h("div", {}, h("label", { for: id, ...i18n(key) }),
    input(id, { class: "date-field", "aria-describedby": `${id}-hint` }),
    h("p", { id: `${id}-hint`, class: "small muted date-hint" }));
}

function card(id, key, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("header", {}, h("h2", { id, ...i18n(key) })), ...children);
}

function button(id, key, cls = "secondary") {
  return h("button", { type: "button", id, class: cls, ...i18n(key) });
}

const REASONS = ["drying", "sorting_reject", "spillage", "other"].map((r) => [r, `reason.${r}`]);

/** Fill the stock view's section (once). */
export function buildStockView(section) {
  if (section.childElementCount) return;
  section.append(
    h("h1", { id: "h-stock", ...i18n("stock.title") }),
    h("form", { id: "stock-filter", class: "card row", role: "search" },
      field("stock-site", "stock.site", select("stock-site")),
      dateField("stock-from", "stock.from"),
      dateField("stock-to", "stock.to"),
      h("button", { type: "submit", ...i18n("stock.show") })),
    h("div", { class: "grid two", style: "margin-top:1rem" },
      card("h-stock-now", "stock.now", h("div", { id: "stock-now" })),
      card("h-stock-chart", "stock.chart", h("div", { id: "stock-chart" }))),
    h("div", { style: "margin-top:1rem" }, card("h-stock-mb", "stock.mb", h("div", { id: "stock-balance" }),
      h("div", { class: "row", style: "margin-top:.75rem" },
        button("export-movements", "export.movements"), button("export-sales", "export.sales"),
        button("export-mb", "export.mb"), button("export-report", "export.report", "")))),
    h("div", { class: "grid two", style: "margin-top:1rem" },
      h("form", { id: "sale-form", class: "card", "aria-labelledby": "h-sale", "data-writes": "" },
        h("header", {}, h("h2", { id: "h-sale", ...i18n("sale.title") })),
        h("div", { class: "row" },
          field("sale-site", "stock.site", select("sale-site", [], { required: true })),
          field("sale-category", "stock.category", select("sale-category", [], { required: true }))),
        field("sale-buyer", "sale.buyer", input("sale-buyer", { required: true, maxlength: 200 })),
        h("div", { class: "row" },
          field("sale-kg", "sale.kg", input("sale-kg", { inputmode: "decimal", required: true })),
          field("sale-price", "sale.price", input("sale-price", { inputmode: "numeric", required: true })),
          field("sale-amount", "sale.amount", input("sale-amount", { inputmode: "numeric", required: true }))),
        h("div", { class: "row" },
          field("sale-scale", "sale.weighed", select("sale-scale")),
          field("sale-ticket", "sale.ticket", input("sale-ticket", { maxlength: 60 }))),
        h("button", { type: "submit", style: "margin-top:.75rem", ...i18n("sale.submit") })),
      h("form", { id: "move-form", class: "card", "aria-labelledby": "h-move", style: "align-self:start", "data-writes": "" },
        h("header", {}, h("h2", { id: "h-move", ...i18n("move.title") })),
        h("div", { class: "row" },
          field("move-site", "stock.site", select("move-site", [], { required: true })),
          field("move-category", "stock.category", select("move-category", [], { required: true }))),
        h("div", { class: "row" },
          field("move-kind", "move.kind", select("move-kind", [["loss", "move.loss"], ["count", "move.count"]])),
          field("move-reason", "move.reason", select("move-reason", REASONS)),
          field("move-kg", "sale.kg", input("move-kg", { inputmode: "decimal", required: true }))),
        field("move-note", "move.note", input("move-note", { maxlength: 300 })),
        h("button", { type: "submit", style: "margin-top:.75rem", ...i18n("move.submit") }))),
    h("div", { style: "margin-top:1rem" }, card("h-sales", "sale.recent", h("div", { id: "stock-sales" }))),
  );
  translate(section);
}

/** Fill the cases view's section (once). */
export function buildCasesView(section) {
  if (section.childElementCount) return;
  const states = ["open", "dismissed", "confirmed"].map((x) => [x, `cases.${x}`]);
  section.append(
    h("h1", { id: "h-cases", ...i18n("cases.title") }),
    h("div", { class: "grid two" },
      card("h-cases-list", "cases.title",
        h("div", { class: "row" }, field("cases-status", "cases.status", select("cases-status", states)),
          button("export-cases", "export.cases")),
        h("ul", { id: "cases-list", class: "plain", "aria-live": "polite", style: "margin-top:.5rem" })),
      h("div", { class: "grid", style: "align-content:start" },
        card("h-cases-holds", "cases.holds", h("ul", { id: "cases-holds", class: "plain" })),
        card("h-cases-rules", "cases.rules", h("ul", { id: "cases-rules", class: "plain" })))),
  );
  translate(section);
}
