// The household's page (phone first): balance, savings history, and a request for a
// plastic pickup at the door. It re-reads when the live stream says something of its
// own happened (a credit, a payout, a pickup) and says when it last did; while the
// stream is not open it checks every POLL_MS instead.
import "./doorstep_strings.js";
import { E } from "./endpoints.js";
import { initShell } from "./shell.js";
import { lang, onLangChange, t } from "./i18n.js";
import { $, h, fill, rupiah, kg, clock, dateTime, relative, errorText, localDay, dayStartUtc, parseKgToGrams } from "./util.js";
import { createMap, mapAvailable } from "./map.js";
import { bindDateField, dateFieldValue, setDateField } from "./datefield.js";

/** Only while the live stream is not open (refused, or the network is away). */
const POLL_MS = 15000;
let me = null;
let lastData = null;
let categories = [];
let uiConfig = null;
let pin = null;
let pinMap = null;
let loadedAt = null;
let liveState = "off";
let loading = null;
let again = false;

function categoryName(code) {
  const c = categories.find((x) => x.code === code);
  return c ? (lang() === "en" ? c.name_en : c.name_id) : code;
}

/** The categories a door pickup can be for (the plastics first), as check boxes. */
function renderCategories() {
  const box = $("#request-categories");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  const plastic = (c) => /plasti/i.test(`${c.code} ${c.name_en}`);
  const shown = categories.filter((c) => c.active !== false).sort((a, b) => plastic(b) - plastic(a));
  fill(box, shown.map((c, i) => h("label", {},
    h("input", { type: "checkbox", name: "categories", value: c.code, checked: checked.size ? checked.has(c.code) : i === 0 }),
    lang() === "en" ? c.name_en : c.name_id)));
  const min = uiConfig ? uiConfig.min_pickup_g : 0;
  $("#request-min").textContent = min ? t("home.request.min", { kg: kg(min) }) : "";
}

/** The pin of the household's door: a tap on the map (when the map can be shown). */
function renderPin() {
  const el = $("#pin-map");
  if (!mapAvailable()) return;
  el.hidden = false;
  if (!pinMap) {
    pinMap = createMap(el, { config: (uiConfig && uiConfig.map) || {}, label: t("home.request.pin"), cluster: false });
    pinMap.leaflet.on("click", (ev) => {
      pin = { lat: Math.round(ev.latlng.lat * 1e6) / 1e6, lon: Math.round(ev.latlng.lng * 1e6) / 1e6 };
      renderPin();
    });
  }
  pinMap.update(pin ? [{ id: "door", kind: "home", lat: pin.lat, lon: pin.lon, label: t("home.request.home"), title: t("home.request.pin") }] : []);
  $("#pin-note").textContent = pin ? t("home.request.pin_set", { lat: pin.lat, lon: pin.lon }) : t("home.request.pin_help");
}

/** The window offered first: from the next half hour, for three hours. */
function defaultWindow() {
  const now = new Date();
  const day = localDay(now);
  const minutes = Math.floor((now.getTime() - Date.parse(dayStartUtc(day))) / 60000);
  const from = Math.ceil((minutes + 1) / 30) * 30;
  const hm = (m) => `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  setDateField($("#request-day"), from >= 24 * 60 ? localDay(new Date(now.getTime() + 86400000)) : day);
  $("#request-from").value = hm(from);
  $("#request-to").value = hm(from + 180);
}

/** A day "YYYY-MM-DD" and a 24-hour "HH:MM" (or "H.MM") in the programme's time zone,
 *  as an ISO instant; null when the time is not one. (Times are typed the app's way,
 *  24-hour, whatever the browser's locale: a native time input shows AM/PM in some.) */
function instant(day, hm) {
  const match = /^(\d{1,2})[:.](\d{2})$/.exec(String(hm || "").trim());
  if (!match) return null;
  const [hours, minutes] = [Number(match[1]), Number(match[2])];
  if (hours > 23 || minutes > 59) return null;
  return new Date(Date.parse(dayStartUtc(day)) + (hours * 60 + minutes) * 60000).toISOString();
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
      const [hh, bal, stmt, pickups, owed] = await Promise.all([E.household(me.id), E.balance(me.id), E.statement(me.id), E.householdPickups(me.id), E.owed(me.id)]);
      lastData = { hh, bal, stmt, pickups, owed };
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

let requestOpen = false;

function render() {
  renderUpdated();
  if (!lastData) return;
  const { hh, bal, stmt, pickups, owed } = lastData;
  $("#hello").textContent = t("home.hello", { name: hh.name });
  if (!pin && hh.lat != null && hh.lon != null) {
    pin = { lat: hh.lat, lon: hh.lon };
    renderPin();
  }
  if (!$("#request-address").value && hh.address) $("#request-address").value = hh.address;
  const balance = $("#balance");
  balance.textContent = rupiah(bal.balance_rp);
  balance.dataset.rp = String(bal.balance_rp);
  const notes = [];
  if (bal.held_rp) notes.push(`${t("hh.available")}: ${rupiah(bal.available_rp)}`);
  if (owed.owed_rp) notes.push(`${t("hh.owed.yours")}: ${rupiah(owed.owed_rp)}`);
  $("#balance-note").textContent = notes.join(" · ");
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
  // one open request at a time (the API refuses a second): cancel it to ask again
  requestOpen = pickups.some((p) => p.status === "open" || p.status === "assigned");
  const send = $("#request-form button[type=submit]");
  send.disabled = requestOpen;
  send.dataset.i18n = requestOpen ? "home.request.send_open" : "home.request.send";
  send.textContent = t(send.dataset.i18n);
  const mine = pickups.filter((p) => p.status !== "cancelled").slice(0, 10);
  fill($("#my-pickups"), mine.length ? mine.map(pickupEl) : h("li", { class: "empty", text: t("pickups.none") }));
}

/** One of the household's requests: status, who comes when, what was asked; cancel. */
function pickupEl(p) {
  const active = p.status === "open" || p.status === "assigned";
  return h("li", { "data-pickup": p.id, "data-status": p.status },
    h("span", { class: `badge ${p.status === "done" ? "ok" : "warn"}`, text: t(`home.request.status.${p.status}`) }), " ",
    h("span", { class: "small", text: p.status === "done" ? `${dateTime(p.completed_at)}${p.collected_g ? " · " + kg(p.collected_g) : ""}` : `${dateTime(p.opened_at)} · ${relative(p.opened_at)}` }),
    active && p.collector_name && p.eta_at ? h("div", { class: "coming", text: t("home.request.coming", { name: p.collector_name, when: `${clock(p.eta_at)} (${relative(p.eta_at)})` }) }) : null,
    active && p.window_start ? h("div", { class: "small muted", text: t("home.request.window", { when: `${dateTime(p.window_start)}–${clock(p.window_end)}` }) }) : null,
    p.categories ? h("div", { class: "small muted", text: p.categories.map(categoryName).join(", ") + (p.estimated_g ? ` · ${kg(p.estimated_g)}` : "") }) : null,
    active ? h("button", { type: "button", class: "secondary small cancel", text: t("home.request.cancel"), onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await E.cancelPickup(p.id, t("home.request.cancel_reason"));
        $("#request-msg").className = "notice ok";
        $("#request-msg").textContent = t("home.request.cancelled");
        await load();
      } catch (err) {
        $("#request-msg").className = "notice bad";
        $("#request-msg").textContent = errorText(err);
        ev.target.disabled = false;
      }
    } }) : null);
}

$("#request-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = ev.target.querySelector("button[type=submit]");
  const msg = $("#request-msg");
  const cats = [...document.querySelectorAll("#request-categories input:checked")].map((i) => i.value);
  if (!cats.length) {
    msg.className = "notice bad";
    msg.textContent = t("home.request.pick_one");
    return;
  }
  const kgText = $("#request-kg").value.trim();
  const grams = kgText ? parseKgToGrams(kgText) : null;
  if (kgText && grams === null) {
    msg.className = "notice bad";
    msg.textContent = t("pickups.weight_invalid");
    return;
  }
  const day = dateFieldValue($("#request-day"));
  const from = day ? instant(day, $("#request-from").value) : null;
  let to = day ? instant(day, $("#request-to").value) : null;
  if (($("#request-day").value.trim() && !day) || (day && (!from || !to))) {
    msg.className = "notice bad";
    msg.textContent = t("home.request.when_invalid");
    return;
  }
  if (from && to && to <= from) to = new Date(Date.parse(to) + 86400000).toISOString(); // past midnight
  button.disabled = true;
  try {
    const note = $("#request-note").value.trim();
    const address = $("#request-address").value.trim();
    await E.requestHouseholdPickup(me.id, {
      categories: cats,
      estimated_kg: grams ? grams / 1000 : undefined,
      window_start: from || undefined,
      window_end: to || undefined,
      lat: pin ? pin.lat : undefined,
      lon: pin ? pin.lon : undefined,
      address: address || undefined,
      note: note || undefined,
    });
    $("#request-note").value = "";
    msg.className = "notice ok";
    msg.textContent = t("home.request.ok");
    await load();
  } catch (err) {
    msg.className = "notice bad";
    msg.textContent = errorText(err);
  } finally {
    button.disabled = requestOpen;
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
    [categories, uiConfig] = await Promise.all([E.categories().catch(() => []), E.uiConfig().catch(() => null)]);
    bindDateField($("#request-day"), $("#request-day-hint"));
    if (!$("#request-day").value) defaultWindow();
    renderCategories();
    renderPin();
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
      pin = null;
      if (pinMap) pinMap.destroy();
      pinMap = null;
    };
  },
});
