// The household's page (phone first): balance, savings history, and a request for a
// plastic pickup at the door. It re-reads when the live stream says something of its
// own happened (a credit, a payout, a pickup) and says when it last did; while the
// stream is not open it checks every POLL_MS instead.
import { E } from "./endpoints.js";
import { initShell } from "./shell.js";
import { lang, onLangChange, t } from "./i18n.js";
import { $, h, fill, rupiah, kg, dateTime, relative, errorText } from "./util.js";

/** Only while the live stream is not open (refused, or the network is away). */
const POLL_MS = 15000;
let me = null;
let lastData = null;
let categories = [];
let loadedAt = null;
let liveState = "off";
let loading = null;
let again = false;

function categoryName(code) {
  const c = categories.find((x) => x.code === code);
  return c ? (lang() === "en" ? c.name_en : c.name_id) : code;
}

/** The categories a door pickup can be for: the plastics when there are any. */
function renderCategories() {
  const sel = $("#request-category");
  const current = sel.value;
  const plastics = categories.filter((c) => c.active !== false && /plasti/i.test(`${c.code} ${c.name_en}`));
  const shown = plastics.length ? plastics : categories.filter((c) => c.active !== false);
  fill(sel, shown.map((c) => h("option", { value: c.code, text: lang() === "en" ? c.name_en : c.name_id })));
  if (current) sel.value = current;
  sel.closest("form").querySelector("label[for=request-category]").hidden = sel.hidden = shown.length === 0;
}

/** Re-read everything; calls while a read is under way make one more read after it. */
function load() {
  if (!me) return Promise.resolve();
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    try {
      const [hh, bal, stmt, pickups] = await Promise.all([E.household(me.id), E.balance(me.id), E.statement(me.id), E.householdPickups(me.id)]);
      lastData = { hh, bal, stmt, pickups };
      loadedAt = Date.now();
      render();
    } catch (err) {
      $("#balance-note").textContent = errorText(err);
    } finally {
      loading = null;
    }
    if (again) {
      again = false;
      await load();
    }
  })();
  return loading;
}

/** "Diperbarui 12 detik yang lalu · langsung" under the balance. */
function renderUpdated() {
  const el = $("#updated");
  if (!loadedAt) {
    el.textContent = "";
    return;
  }
  el.textContent = `${t("home.updated", { ago: relative(new Date(loadedAt)) })} · ${t(liveState === "open" ? "home.updated.live" : "home.updated.poll")}`;
  el.dataset.live = liveState;
}

/** An event on the stream that is this household's own (a credit, payout or pickup). */
function mine(ev) {
  return !!me && ev && ev.household_id === me.id;
}

function render() {
  renderUpdated();
  if (!lastData) return;
  const { hh, bal, stmt, pickups } = lastData;
  $("#hello").textContent = t("home.hello", { name: hh.name });
  const balance = $("#balance");
  balance.textContent = rupiah(bal.balance_rp);
  balance.dataset.rp = String(bal.balance_rp);
  $("#balance-note").textContent = bal.held_rp ? `${t("hh.available")}: ${rupiah(bal.available_rp)}` : "";
  const lines = [...stmt.lines].reverse().slice(0, 50);
  fill($("#statement"), lines.length
    ? lines.map((l) => h("li", {},
        h("div", {}, h("div", { text: t(`stmt.kind.${l.kind}`) }),
          l.weighin ? h("div", { class: "small", text: `${categoryName(l.weighin.category_code)} · ${kg(l.weighin.net_g)}` }) : null,
          l.weighin && l.weighin.verify_code
            ? h("a", { class: "small mono", href: `verify.html#${l.weighin.verify_code}`, "data-verify": l.weighin.verify_code, text: l.weighin.verify_code })
            : null,
          h("div", { class: "small muted", text: dateTime(l.at) })),
        h("div", { class: `amt ${l.amount_rp >= 0 ? "pos" : "neg"}`, text: (l.amount_rp > 0 ? "+" : "") + rupiah(l.amount_rp) })))
    : h("li", { class: "empty", text: t("stmt.none") }));
  const mine = pickups.filter((p) => p.status !== "cancelled").slice(0, 10);
  fill($("#my-pickups"), mine.length
    ? mine.map((p) => h("li", { "data-pickup": p.id, "data-status": p.status },
        h("span", { class: `badge ${p.status === "done" ? "ok" : "warn"}`, text: t(`home.request.status.${p.status}`) }), " ",
        h("span", { class: "small", text: p.status === "done" ? `${dateTime(p.completed_at)}${p.collected_g ? " · " + kg(p.collected_g) : ""}` : `${dateTime(p.opened_at)} · ${relative(p.opened_at)}` })))
    : h("li", { class: "empty", text: t("pickups.none") }));
}

$("#request-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = ev.target.querySelector("button");
  const msg = $("#request-msg");
  button.disabled = true;
  try {
    const note = $("#request-note").value.trim();
    const category = $("#request-category").value || undefined;
    await E.requestHouseholdPickup(me.id, { category, note: note || undefined });
    $("#request-note").value = "";
    msg.className = "notice ok";
    msg.textContent = t("home.request.ok");
    await load();
  } catch (err) {
    msg.className = "notice bad";
    msg.textContent = errorText(err);
  } finally {
    button.disabled = false;
  }
});

$("#refresh").addEventListener("click", load);
onLangChange(() => {
  render();
  renderCategories();
});

initShell({
  roles: ["household"],
  login: (form) => E.householdLogin(String(form.get("member_no")).trim(), String(form.get("pin")).trim()),
  start: async (who) => {
    me = who;
    categories = await E.categories().catch(() => []);
    renderCategories();
    await load();
    const live = E.stream(
      {
        weighin: (w) => mine(w) && load(),
        payout: (p) => mine(p) && load(),
        pickup: (p) => mine(p) && load(),
      },
      (st) => {
        const was = liveState;
        liveState = st;
        if (st === "open" && was !== "open") load(); // catch up on what came while away
        renderUpdated();
      },
    );
    const clock = setInterval(renderUpdated, 1000); // the "… seconds ago" text only
    const poll = setInterval(() => {
      if (liveState !== "open" && document.visibilityState === "visible") load();
    }, POLL_MS);
    return () => {
      live.close();
      clearInterval(clock);
      clearInterval(poll);
      me = null;
      lastData = null;
      loadedAt = null;
      liveState = "off";
    };
  },
});
