"""A layout check run inside the page: nothing sticks out sideways, no two labels overlap.

What a person sees on a phone or a laptop, measured from the rendered boxes:

* **overflow** - a visible element whose box reaches past the left or right edge of the
  viewport (a cut-off tab, a table column scrolled out of sight), or a document wider
  than the viewport. Inside a map the panes are clipped by the map on purpose; the map
  itself is checked.
* **overlap** - two pieces of visible text whose boxes intersect (two chart or map labels
  drawn on top of each other, a label over a data point's label). Each text node is
  measured line by line with a DOM ``Range``, so a block's empty width does not count.
  Labels placed by code (SVG text, map labels) must also keep a 2 px gap: two of them
  touching read as one ("Tong 2 100%Tong 3 100%").

Deliberately off-screen helpers (the skip link until focused, ``.sr-only`` text) are
not content and are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

LAYOUT_JS = (Path(__file__).parent / "layout.js").read_text(encoding="utf-8")


def layout_problems(page: Page) -> list[Any]:
    """Overflow and overlap problems of the page as rendered now ([] when it passes)."""
    problems: list[Any] = page.evaluate(LAYOUT_JS)
    return problems
