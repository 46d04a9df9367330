// The household's inbox (in-app notifications): what was credited, reversed, paid,
// and pickups on their way — the same messages an SMS carries. It fills as weigh-ins
// are credited (re-read every POLL_MS while the page is visible); "mark read" clears
// the unread count. Self-contained: the page only needs a <section id="inbox-card">.
import { E } from "./endpoints.js";
import { token, who } from "./api.js";
import { lang, onLangChange } from "./i18n.js";
import { $, h, fill, dateTime, errorText } from "./util.js";

const POLL_MS = 10000;
const TEXT = {
  id: { title: "Kotak masuk", none: "Belum ada pesan.", read: "Tandai sudah dibaca", unread: (n) => `${n} belum dibaca` },
  en: { title: "Inbox", none: "No messages yet.", read: "Mark all read", unread: (n) => `${n} unread` },
};
let last = null;

function tr() {
  return TEXT[lang()] || TEXT.id;
}

function me() {
  const w = who();
  return token() && w && w.role === "household" ? w : null;
}

function render() {
  const card = $("#inbox-card");
  if (!card) return;
  const m = me();
  card.hidden = !m;
  $("#h-inbox").textContent = tr().title;
  $("#inbox-read").textContent = tr().read;
  if (!last) return;
  $("#inbox-unread").textContent = last.unread ? tr().unread(last.unread) : "";
  $("#inbox-read").hidden = !last.unread;
  fill($("#inbox"), last.items.length
    ? last.items.map((i) => h("li", { class: i.read ? "" : "unread", "data-message": i.id },
        h("div", {}, h("strong", { text: i.title }), h("div", { class: "small", text: i.text }),
          h("div", { class: "small muted", text: dateTime(i.at) }))))
    : h("li", { class: "empty", text: tr().none }));
}

async function load() {
  const m = me();
  if (!m || document.visibilityState !== "visible") return render();
  try {
    last = await E.inbox(m.id);
  } catch (err) {
    last = null;
    const box = $("#inbox-unread");
    if (box) box.textContent = errorText(err);
  }
  render();
}

$("#inbox-read")?.addEventListener("click", async () => {
  const m = me();
  if (!m) return;
  try {
    await E.readInbox(m.id);
  } finally {
    await load();
  }
});
onLangChange(render);
setInterval(load, POLL_MS);
document.addEventListener("visibilitychange", load);
// the login happens on this page: load when the main view appears, and on "refresh"
const main = $("#main");
if (main) new MutationObserver(() => !main.hidden && load()).observe(main, { attributes: true, attributeFilter: ["hidden"] });
$("#refresh")?.addEventListener("click", load);
load();
