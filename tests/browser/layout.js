// The layout check (see layout.py): evaluated in the page, returns a list of problems.
() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const describe = (el) => {
    const cls = typeof el.className === "string" ? el.className.split(" ").filter(Boolean).slice(0, 2).map((n) => "." + n).join("") : "";
    const id = el.id ? "#" + el.id : "";
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return `${el.tagName.toLowerCase()}${id}${cls}${text ? ` "${text}"` : ""}`;
  };
  const shown = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.display === "none" || st.visibility === "hidden" || Number(st.opacity) === 0) return false;
      // clipped away whole: the visually-hidden pattern (e.g. a card table's header on a phone)
      if (st.position === "absolute" && st.clip === "rect(0px, 0px, 0px, 0px)") return false;
    }
    return true;
  };
  const PLACED = "svg, .leaflet-tooltip, .leaflet-marker-icon";
  const skipped = (el) => !!el.closest(".sr-only, .skip-link:not(:focus), .toast-region, title, option");
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(`overflow: the page is ${document.documentElement.scrollWidth}px wide in a ${vw}px viewport`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (skipped(el) || el.closest(".leaflet-pane, .leaflet-control-container")) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    if (r.right <= vw + 1 && r.left >= -1) continue;
    if (!shown(el)) continue;
    // report the outermost offender only (its children stick out with it)
    const parent = el.parentElement && el.parentElement.getBoundingClientRect();
    if (parent && (parent.right > vw + 1 || parent.left < -1) && el.parentElement !== document.body && shown(el.parentElement)) continue;
    problems.push(`overflow: ${describe(el)} spans x ${Math.round(r.left)}..${Math.round(r.right)} in a ${vw}px viewport`);
  }
  // every visible piece of text, one box per rendered line
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || skipped(el) || el.closest("script, style, noscript")) continue;
    if (!shown(el)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width < 1 || r.height < 1) continue;
      boxes.push({ r, el, placed: !!el.closest(PLACED), text: node.textContent.trim().replace(/\s+/g, " ").slice(0, 30) });
    }
  }
  // text is shown only where no clipping ancestor (overflow hidden/auto) cuts it away
  const clipOf = (el) => {
    let box = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.overflowX !== "visible" || st.overflowY !== "visible") {
        const c = e.getBoundingClientRect();
        box = { left: Math.max(box.left, c.left), top: Math.max(box.top, c.top),
                right: Math.min(box.right, c.right), bottom: Math.min(box.bottom, c.bottom) };
      }
    }
    return box;
  };
  const visible = boxes.map((b) => {
    const c = clipOf(b.el);
    const r = { left: Math.max(b.r.left, c.left), top: Math.max(b.r.top, c.top),
                right: Math.min(b.r.right, c.right), bottom: Math.min(b.r.bottom, c.bottom) };
    return { ...b, r, h: b.r.height };
  }).filter((b) => b.r.right - b.r.left >= 1 && b.r.bottom - b.r.top >= 1);
  const seen = new Set();
  for (let i = 0; i < visible.length; i++) {
    for (let j = i + 1; j < visible.length; j++) {
      const a = visible[i], b = visible[j];
      if (a.el === b.el && a.text === b.text) continue; // two lines of one wrapped text
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      // glyph boxes of stacked lines touch by a pixel or two: that is not an overlap; but
      // labels placed by code (chart and map labels) need a gap to read as two labels
      const gap = a.placed && b.placed ? -2 : 2;
      if (w <= gap || h <= Math.max(3, 0.25 * Math.min(a.h, b.h))) continue;
      const key = `${a.text}|${b.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(`overlap: "${a.text}" (${describe(a.el).split(" ")[0]}) and "${b.text}" (${describe(b.el).split(" ")[0]}) by ${Math.round(w)}x${Math.round(h)}px`);
    }
  }
  return problems;
}
