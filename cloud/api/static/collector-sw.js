// The collector page's service worker: the page opens and works without signal.
//
// Every file the page needs is fetched into a cache when the worker installs
// (SHELL), and every same-origin file is then served network first (fresh when there
// is signal, within NETWORK_TIMEOUT_S) with the cached copy as the fallback, so a
// change deployed to the server reaches the phone at its next load with signal and
// nothing needs a version number. The API (/api/) is never cached here: the page keeps
// its own data in IndexedDB (js/collector/store.js) and queues completions there.
// Workbox (vendor/workbox/, from npm, vendored by scripts/vendor-frontend) does the
// routing and the strategy.
importScripts("vendor/workbox/workbox-sw.js");
workbox.setConfig({ modulePathPrefix: "vendor/workbox/", debug: false });

const CACHE = "salinmas-collector-v1";
const NETWORK_TIMEOUT_S = 4;
const SHELL = [
  "collector.html",
  "collector.webmanifest",
  "css/app.css",
  "css/doorstep.css",
  "icons/collector-192.png",
  "icons/collector-512.png",
  "js/collector.js",
  "js/collector/store.js",
  "js/collector/outbox.js",
  "js/collector/scale.js",
  "js/doorstep_strings.js",
  "js/api.js",
  "js/endpoints.js",
  "js/i18n.js",
  "js/map.js",
  "js/shell.js",
  "js/util.js",
  "vendor/idb/index.js",
  "vendor/leaflet/leaflet.js",
  "vendor/leaflet/leaflet.css",
];

const shell = new workbox.strategies.NetworkFirst({ cacheName: CACHE, networkTimeoutSeconds: NETWORK_TIMEOUT_S });

self.addEventListener("install", (event) => {
  // fetch the shell into the cache now (the Workbox recipe warmStrategyCache, inline)
  const done = SHELL.map((url) => shell.handleAll({ event, request: new Request(url) })[1]);
  event.waitUntil(Promise.all(done).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim()); // the page that registered us works offline at once
});

workbox.routing.registerRoute(
  ({ url, request }) => request.method === "GET" && url.origin === self.location.origin && !url.pathname.startsWith("/api/"),
  shell,
);
