"""A small accessibility audit run inside the page: labels, names, language, contrast.

Not a replacement for axe-core (which would need a download); it checks the basics an
operator relies on: every visible form control has a label, every button a name, the
document a language, and visible text meets WCAG AA contrast against its background.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

AUDIT_JS = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== "hidden" && st.display !== "none";
  };
  const describe = (el) => {
    const names = typeof el.className === "string" ? el.className.split(" ").filter(Boolean) : [];
    const cls = names.map((n) => "." + n).join("");
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + cls;
  };
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title) problems.push("document has no title");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!visible(el) || el.type === "hidden") continue;
    const named = el.labels.length > 0 || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    if (!named) problems.push("control without a label: " + describe(el));
  }
  for (const el of document.querySelectorAll("button, [role=button], a[href]")) {
    if (!visible(el)) continue;
    const name = (el.getAttribute("aria-label") || el.textContent || "").trim();
    if (!name) problems.push("button or link without a name: " + describe(el));
  }
  // contrast of visible text against the nearest opaque background
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] === 1)) return c.slice(0, 3);
      if (getComputedStyle(e).backgroundImage !== "none") return null;
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    if (el.closest("svg, [aria-hidden=true], .toast, .flash, button:disabled")) continue;
    seen.add(el);
    const st = getComputedStyle(el);
    const fg = rgb(st.color);
    const bg = bgOf(el);
    if (!bg || parseFloat(st.opacity) < 1) continue;
    const [a, b] = [lum(fg.slice(0, 3)), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio + 0.01 < needed) {
      const text = node.textContent.trim().slice(0, 30);
      problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${describe(el)} "${text}"`);
    }
  }
  return problems;
}
"""


def audit(page: Page) -> list[Any]:
    """Problems found on the page as it is now (an empty list when it passes)."""
    problems: list[Any] = page.evaluate(AUDIT_JS)
    return problems
