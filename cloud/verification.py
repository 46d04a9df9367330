"""Receipts a household can verify: verification codes and the public record behind one.

Every weigh-in gets a verification code when it is received (:func:`new_verify_code`,
12 characters of Crockford base32: 60 random bits); it travels in the receipt
(``verify_code``), is printed on the station's ticket, sent in the SMS and shown on the
household's statement. The public verification page (``/verify.html``, API
``GET /api/v1/public/verify/{code}``, no login) shows the signed record behind a code —
station, time, weight, category, price, amount, the raw frames, whether the station's
signature verifies and where the record sits in its chain — and whether it matches the
ledger. It shows nothing personal: no household, no member number, no card id.

Codes are looked up by their SHA-256 (``weighins.verify_digest``, :func:`code_digest`),
so the lookup's time does not depend on how many characters of a guess are right; the
route is rate-limited per client. 60 bits against, say, ten million weigh-ins: one hit
per 10^11 guesses.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import (
    DeviceKey,
    JournalEntry,
    Posting,
    Site,
    WasteCategory,
    WeighinRecord,
)
from contract import Weighin
from contract.codes import ALPHABET, LENGTH, format_code, normalise_code

#: RFC 4648 base32 (what :func:`base64.b32encode` writes) -> Crockford's alphabet
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
#: random bytes per two codes (2 x 12 letters x 5 bits = 120 bits: no base32 padding)
_PAIR_BYTES = 2 * LENGTH * 5 // 8
assert _PAIR_BYTES * 8 == 2 * LENGTH * 5


def new_verify_code() -> str:
    """A fresh verification code: 12 random Crockford base32 characters (60 bits)."""
    return new_verify_codes(1)[0]


def new_verify_codes(n: int) -> list[str]:
    """``n`` fresh verification codes (a batch's): one draw of random bytes for all,
    :data:`_PAIR_BYTES` for every two codes, each five bits one letter of the base32
    alphabet mapped onto Crockford's (both have exactly 32 letters, so each is equally
    likely): a tenth of the CPU of a draw and a loop of twelve letters per code."""
    pairs = -(-n // 2)
    text = base64.b32encode(secrets.token_bytes(_PAIR_BYTES * pairs)).decode("ascii")
    letters = text.translate(_CROCKFORD)
    return [letters[i * LENGTH : (i + 1) * LENGTH] for i in range(n)]


def code_digest(code: str) -> str:
    """What a code is stored and looked up by (SHA-256, hex)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def weighin_of(rec: WeighinRecord) -> Weighin:
    """The weigh-in record as the station sent it, rebuilt from its row (every signed
    field is a column), so its signature can be checked again at any time."""
    return Weighin.model_validate(
        {
            "device_id": rec.device_id,
            "seq": rec.seq,
            "event_id": rec.event_id,
            "device_time": rec.device_time,
            "clock_synced": rec.clock_synced,
            "boot_id": rec.boot_id,
            "mono_ms": rec.mono_ms,
            "card_id": rec.card_id,
            "category": rec.category_code,
            "net_g": rec.net_g,
            "tare_g": rec.tare_g,
            "division_g": rec.division_g,
            "protocol": rec.protocol,
            "frames": list(rec.frames),
            "stable_ms": rec.stable_ms,
            "public_key": rec.public_key,
            "chain_pos": rec.chain_pos,
            "prev_hash": rec.prev_hash,
            "sw_hash": rec.sw_hash,
            "config_hash": rec.config_hash,
            "signature": rec.signature,
        }
    )


@dataclass(frozen=True, slots=True)
class LedgerMatch:
    matches: bool
    detail: str


def ledger_match(session: Session, rec: WeighinRecord) -> LedgerMatch:
    """Whether the ledger says what the weigh-in row says: a credited weigh-in has its
    credit entry (linked both ways, of exactly its amount, in the journal's chain);
    anything else moved no money."""
    from cloud.ledger_chain import entry_hash

    entries = session.scalars(
        select(JournalEntry).where(
            JournalEntry.weighin_id == rec.id, JournalEntry.kind == "weighin_credit"
        )
    ).all()
    credits_money = rec.status == "credited" and rec.household_id is not None and rec.amount_rp
    if not credits_money:
        if entries:
            return LedgerMatch(False, "a credit entry exists for a weigh-in that credits nothing")
        return LedgerMatch(True, "no money moved, as the record says")
    if len(entries) != 1 or entries[0].id != rec.entry_id:
        return LedgerMatch(False, "the credit entry is missing or not the one recorded")
    entry = entries[0]
    postings = [
        (p.account_id, p.amount_rp)
        for p in session.scalars(select(Posting).where(Posting.entry_id == entry.id))
    ]
    total = sum(a for _, a in postings)
    if sorted(abs(a) for _, a in postings) != [rec.amount_rp, rec.amount_rp] or total != 0:
        return LedgerMatch(False, "the credit entry's postings are not the amount recorded")
    if entry.chain_pos is not None:
        row = {
            c: getattr(entry, c)
            for c in (
                "chain_pos",
                "prev_hash",
                "kind",
                "created_at",
                "effective_at",
                "description",
                "created_by",
                "weighin_id",
                "reverses_entry_id",
            )
        }
        if entry_hash(row, postings) != entry.entry_hash:
            return LedgerMatch(False, "the credit entry does not match its hash in the journal")
    reversed_ = " (since reversed)" if rec.reversal_entry_id is not None else ""
    return LedgerMatch(True, f"credited once, entry {entry.chain_pos or entry.id}{reversed_}")


def find(session: Session, code: str) -> WeighinRecord | None:
    """The weigh-in behind a code as a person typed it (None: no such code)."""
    normal = normalise_code(code)
    if normal is None:
        return None
    return session.scalar(
        select(WeighinRecord).where(WeighinRecord.verify_digest == code_digest(normal))
    )


def _ascii(frame_hex: str) -> str:
    raw = bytes.fromhex(frame_hex)
    return "".join(chr(b) if 0x20 <= b < 0x7F else "·" for b in raw)


def public_record(session: Session, rec: WeighinRecord) -> dict[str, Any]:
    """What the public page shows of a weigh-in (nothing personal)."""
    from cloud.integrity import signature_valid

    site = session.get(Site, rec.site_id) if rec.site_id is not None else None
    cat = session.get(WasteCategory, rec.category_code)
    key = (
        session.scalar(select(DeviceKey).where(DeviceKey.public_key == rec.public_key))
        if rec.public_key
        else None
    )
    signed = rec.signature is not None
    match = ledger_match(session, rec)
    when: datetime = rec.effective_at
    return {
        "code": format_code(rec.verify_code or ""),
        "station": rec.device_id,
        "site": site.name if site is not None else None,
        "weighed_at": when,
        "clock_synced": rec.clock_synced,
        "net_g": rec.net_g,
        "tare_g": rec.tare_g,
        "division_g": rec.division_g,
        "category": rec.category_code,
        "category_name_id": cat.name_id if cat is not None else None,
        "category_name_en": cat.name_en if cat is not None else None,
        "price_rp_per_kg": rec.price_rp_per_kg,
        "amount_rp": rec.amount_rp if rec.status == "credited" else 0,
        "status": rec.status,
        "reason": rec.reason if rec.status in ("held", "rejected") else None,
        "reversed": rec.reversal_entry_id is not None,
        "protocol": rec.protocol,
        "frames": [{"hex": f, "text": _ascii(f)} for f in rec.frames],
        "provenance": rec.provenance,
        "signed": signed,
        "signature_valid": signed and signature_valid(weighin_of(rec)),
        "key_id": key.key_id if key is not None else None,
        "key_status": key.status if key is not None else None,
        "public_key": rec.public_key,
        "chain_pos": rec.chain_pos,
        "prev_hash": rec.prev_hash,
        "record_hash": rec.record_hash,
        "sw_hash": rec.sw_hash,
        "config_hash": rec.config_hash,
        "matches_ledger": match.matches,
        "ledger": match.detail,
    }
