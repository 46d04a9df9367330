// The one map component of the dashboard: points (bins, stations, later collectors'
// stops) at their coordinates on Leaflet (vendored in ../vendor/, loaded by the page as
// the global `L`), clustered when they crowd, each with a popup.
//
//   const map = createMap(el, { config: uiConfig.map, label: "Peta tong" });
//   map.update([{ id, kind, lat, lon, label, className, title, popup: () => Node }]);
//   map.update(points, { fit: false });   // a new set of points, the view kept
//   map.lines([{ id, points: [[lat, lon], ...], className }]);   // e.g. routes
//
// Tiles come from the installation's tile server (`config.tiles_url`, from
// GET /api/v1/ui-config). With none configured, or when none of its tiles load, the map
// is a plain background with a scale bar: every point still sits at its coordinates.
// Labels never overlap: after each move or zoom each label tries the right, then the
// left of its point and is hidden (the popup still has it) where both would collide.
import { h } from "./util.js";
import { t } from "./i18n.js";

/** How many failed tiles, with none loaded, mean "no tile server answers". */
const TILE_FAILURES = 4;
const LABEL_GAP = 3;

/** True when the vendored Leaflet is loaded on this page. */
export function mapAvailable() {
  return typeof window.L !== "undefined" && typeof window.L.map === "function";
}

/**
 * A map in `el`. Options: config ({tiles_url, attribution, max_zoom, center, zoom}),
 * label (accessible name), cluster (default true), unclusterAt (a zoom from which every
 * point is drawn on its own), onSelect(point) (popup button).
 * Returns {update(points), lines(polylines), fit(), invalidate(), destroy(), leaflet}.
 */
export function createMap(el, { config = {}, label = "", cluster = true, unclusterAt = null } = {}) {
  const L = window.L;
  el.classList.add("map");
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", label);
  const map = L.map(el, {
    center: config.center || [-7.42, 109.23],
    zoom: config.zoom || 12,
    maxZoom: config.max_zoom || 19,
    zoomSnap: 0.5,
    scrollWheelZoom: false, // the page scrolls; zoom with the buttons or two fingers
    attributionControl: !!config.tiles_url,
  });
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  const note = h("div", { class: "map-note small", hidden: true });
  el.append(note);
  setTiles(map, el, note, config);

  const layer = cluster
    ? L.markerClusterGroup({
        showCoverageOnHover: false,
        maxClusterRadius: 36,
        spiderfyOnMaxZoom: true,
        iconCreateFunction: clusterIcon,
        disableClusteringAtZoom: unclusterAt ?? undefined,
      })
    : L.layerGroup();
  layer.addTo(map);
  const lineLayer = L.layerGroup().addTo(map);
  const markers = new Map();
  let fitted = "";

  function update(points, { fit: fitNew = true } = {}) {
    const located = points.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
    const keep = new Set(located.map((p) => p.id));
    for (const [id, m] of markers) if (!keep.has(id)) (layer.removeLayer(m), markers.delete(id));
    for (const p of located) {
      let m = markers.get(p.id);
      const icon = m && m.options.iconKey === iconKey(p) ? null : pointIcon(p);
      if (!m) {
        m = L.marker([p.lat, p.lon], { icon, keyboard: true, title: p.title || p.label, riseOnHover: true });
        m.bindPopup(() => (typeof p.popup === "function" ? p.popup() : h("div", { text: p.title || p.label })));
        m.on("add", () => describeMarker(m, p));
        markers.set(p.id, m);
        m.options.point = p;
        layer.addLayer(m);
      } else {
        m.setLatLng([p.lat, p.lon]);
        if (m.options.iconKey !== iconKey(p)) m.setIcon(icon);
        m.options.point = p;
        m.setPopupContent(() => (typeof p.popup === "function" ? p.popup() : h("div", { text: p.title || p.label })));
        describeMarker(m, p);
        if (cluster) layer.refreshClusters(m);
      }
      m.options.priority = p.priority || 0;
      m.options.iconKey = iconKey(p);
    }
    const key = [...keep].sort().join("|");
    if (key !== fitted && located.length) {
      fitted = key;
      if (fitNew) fit();
    }
    requestAnimationFrame(declutter);
    return located.length;
  }

  /** Replace the map's lines (a route per collector): [{id, points, className}]. */
  function lines(list) {
    lineLayer.clearLayers();
    for (const l of list) {
      if (l.points.length < 2) continue;
      L.polyline(l.points, { className: `map-line ${l.className || ""}`, interactive: false, weight: 4 }).addTo(lineLayer);
    }
  }

  let pendingFit = false;
  function fit() {
    const pts = [...markers.values()].map((m) => m.getLatLng());
    if (!pts.length) return;
    if (!el.clientWidth) {
      pendingFit = true; // hidden (another view is shown): fit once it has a size
      return;
    }
    map.fitBounds(L.latLngBounds(pts), { padding: [36, 36], maxZoom: 17, animate: false });
  }

  /** Show each label where it collides with no other label nor point; else hide it. */
  function declutter() {
    const box = el.getBoundingClientRect();
    const icons = [...el.querySelectorAll(".leaflet-marker-pane .leaflet-marker-icon")];
    // the map's own controls and note are taken, as is every point
    const taken = [...el.querySelectorAll(".leaflet-control, .map-note:not([hidden])")].map((c) => c.getBoundingClientRect());
    for (const icon of icons) {
      const dot = icon.querySelector(".map-dot") || icon;
      taken.push(dot.getBoundingClientRect());
    }
    const labelled = icons
      .map((icon) => ({ icon, label: icon.querySelector(".map-label"), prio: Number(icon.dataset.priority || 0) }))
      .filter((x) => x.label)
      .sort((a, b) => b.prio - a.prio);
    for (const { icon, label } of labelled) {
      let placed = false;
      for (const side of ["right", "left"]) {
        icon.dataset.side = side;
        label.hidden = false;
        const r = label.getBoundingClientRect();
        const inside = r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;
        if (inside && !taken.some((o) => hits(r, o))) {
          taken.push(r);
          placed = true;
          break;
        }
      }
      label.hidden = !placed;
    }
  }

  map.on("zoomend moveend", () => requestAnimationFrame(declutter));
  layer.on && layer.on("animationend spiderfied unspiderfied", () => requestAnimationFrame(declutter));
  const resize = new ResizeObserver(() => {
    map.invalidateSize({ animate: false });
    if (pendingFit && el.clientWidth) {
      pendingFit = false;
      fit();
    }
    requestAnimationFrame(declutter);
  });
  resize.observe(el);

  return {
    update,
    lines,
    fit,
    invalidate: () => map.invalidateSize({ animate: false }),
    destroy() {
      resize.disconnect();
      map.remove();
    },
    leaflet: map,
  };
}

const iconKey = (p) => `${p.kind}|${p.className}|${p.label}|${p.badge || ""}`;

function hits(a, b) {
  return a.left < b.right + LABEL_GAP && b.left < a.right + LABEL_GAP && a.top < b.bottom + LABEL_GAP && b.top < a.bottom + LABEL_GAP;
}

function setTiles(map, el, note, config) {
  const plain = (why) => {
    el.classList.add("map-plain");
    note.textContent = t(why);
    note.hidden = false;
  };
  if (!config.tiles_url) {
    plain("map.notiles");
    return;
  }
  let loaded = 0;
  let failed = 0;
  const tiles = window.L.tileLayer(config.tiles_url, {
    maxZoom: config.max_zoom || 19,
    attribution: config.attribution || "",
    crossOrigin: false,
  });
  tiles.on("tileload", () => {
    loaded += 1;
  });
  tiles.on("tileerror", () => {
    failed += 1;
    if (!loaded && failed >= TILE_FAILURES && map.hasLayer(tiles)) {
      map.removeLayer(tiles);
      plain("map.tilesdown");
    }
  });
  tiles.addTo(map);
}

/** A point's marker: a coloured dot and its label (placed by declutter()). */
function pointIcon(p) {
  const shape = p.kind === "station" ? "map-dot station" : "map-dot";
  const html = h("div", { class: `map-point ${p.className || ""}` },
    h("span", { class: shape, "aria-hidden": "true" }, p.badge || ""),
    p.label ? h("span", { class: "map-label", text: p.label }) : null);
  return window.L.divIcon({ html, className: "map-icon", iconSize: [22, 22], iconAnchor: [11, 11], popupAnchor: [0, -10] });
}

function describeMarker(m, p) {
  const icon = m.getElement();
  if (!icon) return;
  icon.dataset.point = p.id;
  icon.dataset.kind = p.kind || "";
  icon.dataset.priority = String(p.priority || 0);
  if (p.kind === "bin") icon.dataset.bin = p.id;
  if (p.kind === "station") icon.dataset.device = p.id;
  icon.setAttribute("aria-label", p.title || p.label || p.id);
}

/** A cluster shows how many points it holds, coloured by its most urgent one. */
function clusterIcon(cluster) {
  const children = cluster.getAllChildMarkers();
  const worst = children.reduce((a, m) => Math.max(a, m.options.priority || 0), 0);
  const cls = children.find((m) => (m.options.priority || 0) === worst)?.options.point?.className || "";
  const html = h("div", { class: `map-cluster ${cls}` }, h("span", { text: String(children.length) }));
  return window.L.divIcon({ html, className: "map-icon", iconSize: [34, 34], iconAnchor: [17, 17] });
}
