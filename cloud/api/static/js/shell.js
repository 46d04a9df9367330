// What every page shares: translations, the language toggle, the login form, logout,
// and going back to the login form when the token expires.
import { bindLangToggle, onLangChange, translate, t } from "./i18n.js";
import { clearSession, onUnauthorized, saveSession, token, who } from "./api.js";
import { $, errorText } from "./util.js";

/**
 * Start a page. `login(form)` performs the API login and resolves to the TokenOut;
 * `roles` lists the roles allowed on this page; `start()` runs once logged in and may
 * return a function to stop (close streams, timers) on logout.
 */
export function initShell({ roles, login, start }) {
  translate();
  bindLangToggle($("#lang"));
  const loginView = $("#login-view");
  const main = $("#main");
  const form = $("#login-form");
  const errorBox = $("#login-error");
  const loggedInOnly = document.querySelectorAll("[data-auth]");
  let stop = null;

  function showLogin(message = "") {
    if (stop) stop();
    stop = null;
    clearSession();
    main.hidden = true;
    loggedInOnly.forEach((el) => (el.hidden = true));
    loginView.hidden = false;
    errorBox.textContent = message;
    const first = form.querySelector("input");
    if (first) first.focus();
  }

  async function enter() {
    loginView.hidden = true;
    main.hidden = false;
    loggedInOnly.forEach((el) => (el.hidden = false));
    stop = (await start(who())) || null;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = t("login.busy");
    errorBox.textContent = "";
    try {
      const tok = await login(new FormData(form));
      if (!roles.includes(tok.role)) {
        errorBox.textContent = t("login.wrongrole");
        return;
      }
      saveSession(tok.access_token, { role: tok.role, id: tok.subject_id, name: tok.name, expires_at: tok.expires_at });
      form.reset();
      await enter();
    } catch (err) {
      errorBox.textContent = errorText(err);
    } finally {
      button.disabled = false;
      button.textContent = t("login.submit");
    }
  });

  $("#logout").addEventListener("click", () => showLogin());
  onUnauthorized(() => showLogin(t("err.login")));

  const current = who();
  if (token() && current && roles.includes(current.role) && new Date(current.expires_at) > new Date()) enter();
  else showLogin();
}

/**
 * The page's navigation (`nav.tabs`, one link per view): a row of tabs on wide screens,
 * a menu button naming the current view on phones. Call after the current view changes
 * (the link with aria-current="page" names it); links close the menu.
 */
export function syncNav() {
  const nav = $("nav.tabs");
  const toggle = $(".menu-toggle");
  if (!nav || !toggle) return;
  if (!toggle.dataset.bound) {
    toggle.dataset.bound = "1";
    toggle.addEventListener("click", () => setMenu(toggle.getAttribute("aria-expanded") !== "true"));
    nav.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) setMenu(false);
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setMenu(false);
        toggle.focus();
      }
    });
  }
  const current = nav.querySelector('a[aria-current="page"]');
  $(".menu-current", toggle).textContent = current ? current.textContent : "";
}

function setMenu(open) {
  $(".menu-toggle").setAttribute("aria-expanded", String(open));
  $("nav.tabs").classList.toggle("open", open);
}

/** Show the live connection state in the header pill. */
export function setLiveState(state) {
  const pill = $("#live");
  if (!pill) return;
  pill.dataset.state = state;
  pill.textContent = t(`live.${state}`);
}

onLangChange(() => {
  const pill = $("#live");
  if (pill) setLiveState(pill.dataset.state || "off");
});
