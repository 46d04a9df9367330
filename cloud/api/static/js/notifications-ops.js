// The operators' view of notifications: per channel what was sent, is waiting, failed
// (dead); the failed ones with their reason and a resend button (audited by the API).
// Self-contained: the overview only needs a <section id="notify-card">. Re-read every
// POLL_MS while the page is visible and a staff member is logged in.
import { E } from "./endpoints.js";
import { token, who } from "./api.js";
import { lang, onLangChange } from "./i18n.js";
import { $, h, fill, dateTime, errorText } from "./util.js";

const POLL_MS = 15000;
const TEXT = {
  id: { title: "Notifikasi", channel: "Saluran", sent: "terkirim", waiting: "menunggu", dead: "gagal",
        none: "Tidak ada notifikasi yang gagal.", resend: "Kirim ulang", today: "24 jam" },
  en: { title: "Notifications", channel: "Channel", sent: "sent", waiting: "waiting", dead: "failed",
        none: "No failed notifications.", resend: "Resend", today: "24 h" },
};
let last = null;

function tr() {
  return TEXT[lang()] || TEXT.id;
}

function staff() {
  const w = who();
  return token() && w && (w.role === "admin" || w.role === "operator");
}

function render() {
  const card = $("#notify-card");
  if (!card) return;
  card.hidden = !staff();
  $("#h-notify").textContent = tr().title;
  if (!last) return;
  const t = tr();
  fill($("#notify-counters"), Object.entries(last.counters).map(([name, c]) =>
    h("li", { "data-channel": name },
      h("strong", { text: name }), " ",
      h("span", { class: "badge ok", text: `${c.sent_24h} ${t.sent} (${t.today})` }), " ",
      h("span", { class: "badge warn", text: `${c.pending + c.sending + c.queued} ${t.waiting}` }), " ",
      h("span", { class: `badge ${c.dead ? "bad" : "off"}`, text: `${c.dead} ${t.dead}` }))));
  fill($("#notify-dead"), last.dead.length
    ? last.dead.map((d) => h("li", { "data-delivery": d.id },
        h("div", {}, h("strong", { text: `${d.channel} · ${d.event}` }),
          h("div", { class: "small", text: d.last_error || "" }),
          h("div", { class: "small muted", text: `${d.recipient} · ${dateTime(d.created_at)}` })),
        h("button", { type: "button", class: "secondary small", "data-writes": "", text: t.resend, onclick: () => resend(d.id) })))
    : h("li", { class: "empty", text: t.none }));
}

async function load() {
  if (!staff() || document.visibilityState !== "visible") return render();
  try {
    const [counters, dead] = await Promise.all([E.notificationCounters(), E.notifications({ status: "dead", limit: 20 })]);
    last = { counters, dead };
  } catch (err) {
    const box = $("#notify-dead");
    if (box) fill(box, h("li", { class: "empty", text: errorText(err) }));
    return;
  }
  render();
}

async function resend(id) {
  try {
    await E.resendNotification(id);
  } finally {
    await load();
  }
}

onLangChange(render);
setInterval(load, POLL_MS);
document.addEventListener("visibilitychange", load);
const main = $("#main");
if (main) new MutationObserver(() => !main.hidden && load()).observe(main, { attributes: true, attributeFilter: ["hidden"] });
load();
