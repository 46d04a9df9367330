"""The API's view of a stored weigh-in (shared by weigh-ins, statements and reports)."""

from __future__ import annotations

from cloud.api.schemas import WeighinOut
from cloud.models import WeighinRecord
from contract.codes import format_code


def weighin_out(w: WeighinRecord) -> WeighinOut:
    return WeighinOut(
        id=w.id,
        event_id=w.event_id,
        device_id=w.device_id,
        seq=w.seq,
        effective_at=w.effective_at,
        received_at=w.received_at,
        site_id=w.site_id,
        card_id=w.card_id,
        category_code=w.category_code,
        net_g=w.net_g,
        tare_g=w.tare_g,
        division_g=w.division_g,
        price_rp_per_kg=w.price_rp_per_kg,
        amount_rp=w.amount_rp,
        status=w.status,
        reason=w.reason,
        household_id=w.household_id,
        assigned_at=w.assigned_at,
        assigned_by=w.assigned_by,
        reversed=w.reversal_entry_id is not None,
        protocol=w.protocol,
        frames=list(w.frames),
        provenance=w.provenance,
        chain_pos=w.chain_pos,
        verify_code=format_code(w.verify_code) if w.verify_code else None,
    )
