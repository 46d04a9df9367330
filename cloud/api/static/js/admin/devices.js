// Devices: provision (the broker password is shown once), a one-time configuration link
// for the Pi (QR + command), revoke; health (online, last seen, version, queue).
import { E } from "../endpoints.js";
import { t } from "../i18n.js";
import { $, h, fill, cardTable, dateTime, relative, errorText, pager } from "../util.js";
import { act, loadSites, siteName, siteOptions } from "./common.js";

/** The device table: a page at a time (util.js pager; 22,300 devices in a regency). */
const DEVICE_PAGE = 50;
let shownOffset = 0;

export async function showDevices(offset = shownOffset) {
  await loadSites().catch(() => []);
  const site = $("#dev-site");
  if (!site.options.length) fill(site, h("option", { value: "", text: "–" }), siteOptions());
  const box = $("#dev-table");
  try {
    const page = await E.devices({}, offset, DEVICE_PAGE);
    shownOffset = offset;
    const devices = page.items;
    const health = (d) => d.revoked
      ? h("span", { class: "badge off", text: t("dev.revoked") })
      : h("span", { class: `badge ${d.online ? "ok" : "bad"}`, text: t(d.online ? "dev.online" : "dev.offline") });
    fill(box, devices.length
      ? cardTable(
          [{ label: t("dev.id") }, { label: t("dev.kind") }, { label: t("adm.site") }, { label: t("dev.health") },
           { label: t("dev.seen") }, { label: t("dev.version") }, { label: t("dev.outbox"), num: true }, { label: "" }],
          devices.map((d) => [d.device_id, t(`dev.kind.${d.kind}`), siteName(d.site_id), health(d),
            d.last_seen ? relative(d.last_seen) : "–", d.sw_version || "–", d.outbox_depth ?? "–",
            d.revoked ? "" : h("div", { class: "row", "data-writes": "" },
              h("button", { type: "button", class: "small secondary", text: t("dev.config"), "aria-label": `${t("dev.config")} ${d.device_id}`,
                onclick: () => showLink(d.device_id) }),
              h("button", { type: "button", class: "small danger", text: t("dev.revoke"), "aria-label": `${t("dev.revoke")} ${d.device_id}`,
                onclick: () => window.confirm(t("dev.revoke_confirm", { id: d.device_id }))
                  && act(() => E.revokeDevice(d.device_id), t("dev.revoked"), () => showDevices()) }))]),
          (i) => ({ "data-device": devices[i].device_id }))
      : h("p", { class: "empty", text: t("adm.none") }),
      page.total > page.items.length || offset ? pager(page, showDevices) : null);
  } catch (err) {
    fill(box, h("p", { class: "form-error", text: errorText(err) }));
  }
}

async function showLink(deviceId) {
  const link = await act(() => E.configLink(deviceId), null);
  if (!link) return;
  const box = $("#dev-link");
  box.hidden = false;
  fill(box,
    h("header", {}, h("h2", { text: t("dev.link_title", { id: link.device_id }) })),
    h("img", { class: "qr", alt: "QR", width: 220, height: 220, src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(link.qr_svg)}` }),
    h("p", { class: "small", text: t("dev.link_help", { until: dateTime(link.expires_at) }) }),
    h("pre", { class: "command", text: link.command }),
    h("p", {}, h("a", { id: "dev-link-url", href: link.url, download: "edge.env", text: t("dev.link_open") })));
  box.scrollIntoView({ block: "nearest" });
}

export function bindDevices() {
  $("#dev-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { device_id: $("#dev-id").value.trim(), kind: $("#dev-kind").value,
      name: $("#dev-name").value.trim() || undefined, site_id: Number($("#dev-site").value) || undefined };
    const creds = await act(() => E.provisionDevice(body), null, () => showDevices());
    if (!creds) return;
    $("#dev-form").reset();
    fill($("#dev-secret"), h("p", { class: "notice ok", role: "status",
      text: t("dev.password_once", { id: creds.device_id, password: creds.mqtt_password }) }));
    await showLink(creds.device_id);
  });
}
