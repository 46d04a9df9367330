"""From a stored notification to the words a person reads (when it is sent, not before).

``Notification.data`` holds plain facts (grams, rupiah, codes, ids, ISO times); here
they become the template values, in the notification's language and the programme's
time zone, with names looked up (category, site, member number):

============ ========================================================================
value        from
============ ========================================================================
kg           ``net_g`` or ``collected_g`` ("1,25 kg" / "1.25 kg")
rupiah       ``amount_rp`` ("Rp 3.750")
balance      ``balance_rp`` (the balance right after the event); else when sent
price        ``price_rp_per_kg`` ("Rp 3.000/kg")
category     ``category`` code -> the category's name in the language
time         ``at`` (ISO) or when the notification was made, local ("01-12-2026 17:53 WIB")
due / since  ``due_at`` / ``since`` (ISO), local
fill         ``fill_pct`` ("85%")
window       ``window_s`` ("15 menit" / "15 min")
verification ``verification_code`` -> " Kode: ..." (empty without one)
site         the notification's site name; member_no the household's number
============ ========================================================================

Anything else in ``data`` (``event_id``, ``pickup_id``, ``reason``, ``collector``,
``device``, ``bin``, ``count``) is used as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.models import Household, Site, WasteCategory
from cloud.models.notifications import Notification
from cloud.notifications.templates import Rendered, Templates, load_templates
from cloud.postings import funds
from salinmas.formats import kilograms, local_time, rupiah


def _when(value: Any, tz: str) -> str:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return local_time(at, tz)


def values_for(
    session: Session, n: Notification, *, tz: str, templates: Templates
) -> dict[str, str]:
    """The template values of ``n`` (see the module docs)."""
    d = n.data
    lang = n.lang
    out: dict[str, str] = {k: str(v) for k, v in d.items() if v is not None}
    grams = d.get("net_g", d.get("collected_g"))
    if grams is not None:
        out["kg"] = kilograms(int(grams), lang="en" if lang == "en" else "id")
    elif "collected_g" in d:  # a pickup completed without a weight
        out["kg"] = "-"
    if d.get("amount_rp") is not None:
        out["rupiah"] = rupiah(int(d["amount_rp"]))
    if d.get("price_rp_per_kg") is not None:
        out["price"] = f"{rupiah(int(d['price_rp_per_kg']))}/kg"
    if d.get("balance_rp") is not None:
        out["balance"] = rupiah(int(d["balance_rp"]))
    elif n.household_id is not None and "balance" in templates.get(n.event).fields:
        out["balance"] = rupiah(funds(session, household_id=n.household_id).balance_rp)
    code = d.get("category")
    if code is not None:
        cat = session.get(WasteCategory, str(code))
        out["category"] = (cat.name_en if lang == "en" else cat.name_id) if cat else str(code)
    out["time"] = _when(d.get("at") or n.created_at, tz)
    for key in ("due_at", "since"):
        if d.get(key) is not None:
            out["due" if key == "due_at" else key] = _when(d[key], tz)
    if d.get("fill_pct") is not None:
        out["fill"] = f"{float(d['fill_pct']):.0f}%"
    if d.get("window_s") is not None:
        minutes = max(1, round(int(d["window_s"]) / 60))
        out["window"] = f"{minutes} {'min' if lang == 'en' else 'menit'}"
    code_text = d.get("verification_code")
    out["verification"] = (
        templates.phrase("verification", lang, code=str(code_text)) if code_text else ""
    )
    if n.site_id is not None:
        site = session.get(Site, n.site_id)
        out.setdefault("site", site.name if site else str(n.site_id))
    if n.household_id is not None:
        hh = session.get(Household, n.household_id)
        if hh is not None:
            out.setdefault("member_no", hh.member_no)
            if hh.site_id is not None and "site" not in out:
                site = session.get(Site, hh.site_id)
                out["site"] = site.name if site else ""
    out.setdefault("site", "")
    if "device_id" in d:
        out.setdefault("device", str(d["device_id"]))
    if "bin_id" in d:
        out.setdefault("bin", str(d["bin_id"]))
    return out


def render(
    session: Session, n: Notification, *, tz: str, templates: Templates | None = None
) -> Rendered:
    """Title and text of ``n`` in its language (``TemplateError`` if a value is missing)."""
    t = templates or load_templates()
    return t.render(n.event, n.lang, values_for(session, n, tz=tz, templates=t))
