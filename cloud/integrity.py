"""Verification before money: what ingest checks of a new weigh-in before crediting it.

For each weigh-in not seen before, in this order (the first failure decides; nothing
that fails is credited, it is kept as a weigh-in row with status ``held``, a
:class:`cloud.models.Hold` naming the reason, a ``held`` receipt to the station and a
``weighin_held`` alert — :mod:`cloud.holds` releases or rejects it):

``unsigned``   no signature: held when ``enforce`` (production), or when the station has
               an approved key (a signing station cannot be downgraded); otherwise
               credited with ``provenance`` unsigned (development, old tests and tools).
``key``        the public key is not approved for this station (pending, retired, or
               another device's) — :mod:`cloud.devicekeys`.
``signature``  the Ed25519 signature does not verify over
               :func:`contract.signing.signed_bytes`: the record was changed after signing
               (a weight edited on the way, a record re-sent under another device's id).
``chain_fork`` another record of this key already holds its ``chain_pos`` (a copied
               station, a replayed record), or its ``prev_hash`` is not the record hash of
               the key's record one position lower.
``chain_gap``  the record one position lower never arrived (removed from the middle of
               the chain, or simply late): released by itself when it arrives and links.
``frames``     re-parsed with the same protocol module the station used (:mod:`protocols`)
               the raw frames do not give the weight claimed (the last frame's weight is
               ``net_g``, every frame a stable weight within one division ``d`` of it), or
               the division differs from the frame's or the approved configuration's.
``software``   ``sw_hash`` is not an approved build for this station.
``config``     ``config_hash`` is not an approved configuration for this station.
``clock``      unsynchronised, and no anchor of its boot yet (:mod:`cloud.clock`):
               released by itself when one arrives (or after ``clock_wait``).

A record with a bad signature proves nothing about its chain: it does not take its
position. The next record still links: its predecessor's position is taken by a held
record (the chain is not *missing* a record there, it holds an altered one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import devicekeys
from cloud.boots import BootClocks
from cloud.bulk import among
from cloud.clock import CLOCK_WAIT, event_time, trusted
from cloud.crediting import Checked
from cloud.db import chunks
from cloud.models import ConfigLogEntry, DeviceKey, Hold, WeighinRecord
from contract import Weighin
from contract.signing import record_hash, signed_bytes
from protocols import Status, get_protocol

HOLD_KINDS = (
    "unsigned",
    "key",
    "signature",
    "chain_fork",
    "chain_gap",
    "frames",
    "software",
    "config",
    "clock",
)
#: holds that resolve themselves when the missing piece arrives
AUTOMATIC = frozenset({"chain_gap", "clock"})


#: why a weigh-in is held: (kind, detail)
Held = tuple[str, str]


def verify_signature(public_key: str, signature: str, data: bytes) -> bool:
    """Ed25519 (RFC 8032) verification; False for a malformed key or signature too."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), data
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_valid(w: Weighin) -> bool:
    """Whether a signed weigh-in's signature verifies (False for an unsigned one)."""
    if w.public_key is None or w.signature is None:
        return False
    return verify_signature(w.public_key, w.signature, signed_bytes(w))


def check_frames(w: Weighin, configured_division_g: int | None) -> str | None:
    """Why the raw frames do not give the weigh-in claimed, or None if they do.

    The frames are the capture's stable window (``edge.capture``): each must parse, with
    the protocol named, to a stable weight (for a protocol with a stability flag), all
    within one division of each other; the last is the weight captured (``net_g``).
    """
    if not w.frames:
        return "no frames"
    try:
        parser = get_protocol(w.protocol)
    except ValueError:
        return f"unknown protocol {w.protocol!r}"
    readings = []
    for hex_frame in w.frames:
        reading = parser.parse(bytes.fromhex(hex_frame))
        if reading is not None:
            readings.append(reading)
    if not readings:
        return "no frame carries a weight"
    grams = []
    for r in readings:
        if r.status is Status.ERROR or r.grams is None:
            return f"a frame does not parse as a weight ({r.detail or r.status.value})"
        if r.status is not Status.STABLE:
            return f"a frame is not stable ({r.status.value})"
        grams.append(r.grams)
    last = readings[-1]
    d = last.division_g or configured_division_g
    if last.grams != w.net_g:
        return f"frames give {last.grams} g, the record claims {w.net_g} g"
    if last.tare_g is not None and last.tare_g != w.tare_g:
        return f"frames give tare {last.tare_g} g, the record claims {w.tare_g} g"
    if d is not None and d != w.division_g:
        return f"division is {d} g, the record claims {w.division_g} g"
    if max(grams) - min(grams) > w.division_g:
        return f"frames spread {max(grams) - min(grams)} g, more than d = {w.division_g} g"
    return None


@dataclass
class Inspector:
    """Checks one batch's new weigh-ins (called by :func:`cloud.crediting.credit_many`)."""

    enforce: bool
    clocks: BootClocks = field(default_factory=BootClocks)
    clock_wait: timedelta = CLOCK_WAIT

    def __call__(self, session: Session, new: Sequence[tuple[Weighin, datetime]]) -> list[Checked]:
        trust = not self.enforce
        signed = [w for w, _ in new if w.signed]
        keys = self._keys(session, {(w.device_id, w.public_key) for w in signed})
        approvals = devicekeys.approved_digests(session, sorted({w.device_id for w, _ in new}))
        unsigned = sorted({w.device_id for w, _ in new if not w.signed})
        signing_devices = (
            set(session.scalars(devicekeys.SIGNING(session), {"keys": unsigned}))
            if unsigned
            else set()
        )
        chain = _ChainView(session, signed)
        divisions = self._divisions(session, {w.config_hash for w in signed})
        # in chain order: a batch may carry a record and its successor
        order = sorted(
            range(len(new)), key=lambda i: (new[i][0].public_key or "", new[i][0].chain_pos or 0)
        )
        verdicts: dict[int, Checked] = {}
        for i in order:
            w, received_at = new[i]
            digest = record_hash(w)
            hold = self._check(
                session, w, keys, approvals, signing_devices, chain, divisions, trust
            )
            eff, clock_hold = self._date(w, received_at)
            if hold is None:
                hold = clock_hold
            # the position is taken — by an altered record too, which proves nothing
            # about its links but is not missing either
            chain.take(w, digest, valid=hold is None or hold[0] != "signature")
            verdicts[i] = Checked("signed" if w.signed else "unsigned", hold, eff, digest)
        return [verdicts[i] for i in range(len(new))]

    def _check(
        self,
        session: Session,
        w: Weighin,
        keys: dict[str, DeviceKey],
        approvals: set[tuple[str, str, str]],
        signing_devices: set[str],
        chain: _ChainView,
        divisions: dict[str, int | None],
        trust: bool,
    ) -> Held | None:
        if not w.signed:
            if self.enforce:
                return ("unsigned", "the station did not sign it")
            if w.device_id in signing_devices:
                return ("unsigned", "unsigned, but the station signs with an approved key")
            return None
        assert w.public_key is not None
        assert w.sw_hash is not None
        assert w.config_hash is not None
        key = keys.get(w.public_key)
        if key is None or key.device_id != w.device_id:
            owner = f" (it is {key.device_id}'s)" if key is not None else ""
            return ("key", f"key {devicekeys.key_id(w.public_key)} not this station's{owner}")
        if key.status != "approved":
            return ("key", f"key {key.key_id} is {key.status}, not approved")
        if not signature_valid(w):
            return ("signature", "the signature does not match the record")
        broken = chain.check(w)
        if broken is not None:
            return broken
        problem = check_frames(w, divisions.get(w.config_hash))
        if problem is not None:
            return ("frames", problem)
        for kind, digest in (("software", w.sw_hash), ("config", w.config_hash)):
            if (w.device_id, kind, digest) not in approvals:
                if trust:
                    devicekeys.note_build(
                        session,
                        device_id=w.device_id,
                        sw_hash=w.sw_hash,
                        config_hash=w.config_hash,
                        trust_first_use=True,
                    )
                    approvals.update(
                        {
                            (w.device_id, "software", w.sw_hash),
                            (w.device_id, "config", w.config_hash),
                        }
                    )
                    continue
                return (kind, f"{kind} {digest[:12]} is not approved for {w.device_id}")
        return None

    def _date(self, w: Weighin, received_at: datetime) -> tuple[datetime, Held | None]:
        """When it counts, and a ``clock`` hold if it must wait for its boot's anchor."""
        if trusted(w.device_time, w.clock_synced, received_at):
            return w.device_time, None
        anchor = self.clocks.get((w.device_id, str(w.boot_id))).best()
        eff = event_time(
            w.device_time, w.clock_synced, received_at, mono_ms=w.mono_ms, anchor=anchor
        )
        if anchor is None:
            return eff, ("clock", "unsynchronised; waiting for its boot's time")
        return eff, None

    def _keys(self, session: Session, pairs: set[tuple[str, str | None]]) -> dict[str, DeviceKey]:
        out: dict[str, DeviceKey] = {}
        for chunk in chunks(k for _, k in pairs if k is not None):
            out.update(
                (row.public_key, row)
                for row in session.scalars(
                    select(DeviceKey).where(among(session, DeviceKey.public_key, chunk))
                )
            )
        for device_id, public_key in sorted(pairs, key=lambda p: (p[0], p[1] or "")):
            if public_key is not None and public_key not in out:
                row = devicekeys.announce_key(
                    session,
                    device_id=device_id,
                    public_key=public_key,
                    trust_first_use=not self.enforce,
                )
                if row is not None:
                    out[public_key] = row
        return out

    @staticmethod
    def _divisions(session: Session, hashes: set[str | None]) -> dict[str, int | None]:
        """The division of each configuration (from the devices' configuration logs)."""
        out: dict[str, int | None] = {}
        for chunk in chunks(h for h in hashes if h is not None):
            for digest, d in session.execute(
                select(ConfigLogEntry.config_hash, ConfigLogEntry.division_g).where(
                    among(session, ConfigLogEntry.config_hash, chunk)
                )
            ):
                out[digest] = d
        return out


class _ChainView:
    """The records of the batch's keys around their positions (stored and in this batch).

    Only a record of the key's own station counts (a key belongs to one station: a
    record presented by another is not part of its chain); one whose signature failed
    marks its position as taken by an altered record.
    """

    def __init__(self, session: Session, records: Sequence[Weighin]) -> None:
        #: (public_key, chain_pos) -> (record hash, event id, device id, signature valid?)
        self.known: dict[tuple[str, int], tuple[str | None, str, str, bool]] = {}
        wanted: dict[str, set[int]] = {}
        for w in records:
            if w.public_key is not None and w.chain_pos is not None:
                wanted.setdefault(w.public_key, set()).update(
                    p for p in (w.chain_pos - 1, w.chain_pos) if p >= 1
                )
        W = WeighinRecord
        for k, positions in sorted(wanted.items()):
            for chunk in chunks(positions):
                rows = session.execute(
                    select(W.chain_pos, W.record_hash, W.event_id, W.device_id, Hold.kind)
                    .outerjoin(Hold, Hold.weighin_id == W.id)
                    .where(W.public_key == k, among(session, W.chain_pos, chunk))
                )
                for pos, digest, event_id, device_id, hold_kind in rows:
                    if pos is not None:
                        self._put(
                            k, int(pos), (digest, event_id, device_id, hold_kind != "signature")
                        )

    def _put(self, key: str, pos: int, entry: tuple[str | None, str, str, bool]) -> None:
        old = self.known.get((key, pos))
        if old is None or (entry[3] and not old[3]):  # a fork never displaces the first
            self.known[(key, pos)] = entry

    def _at(self, w: Weighin, pos: int) -> tuple[str | None, str, str, bool] | None:
        assert w.public_key is not None
        entry = self.known.get((w.public_key, pos))
        return entry if entry is not None and entry[2] == w.device_id else None

    def check(self, w: Weighin) -> Held | None:
        assert w.chain_pos is not None
        here = self._at(w, w.chain_pos)
        if here is not None and here[3] and here[1] != w.event_id:  # not itself (re-checked)
            return ("chain_fork", f"position {w.chain_pos} is already {here[1]}'s")
        if w.chain_pos == 1:
            return None
        before = self._at(w, w.chain_pos - 1)
        if before is None:
            return ("chain_gap", f"record {w.chain_pos - 1} of this key has not arrived")
        digest, event_id, _, valid = before
        if valid and digest != w.prev_hash:
            return ("chain_fork", f"prev_hash is not the hash of {event_id}")
        return None  # linked (or its predecessor is held as altered)

    def take(self, w: Weighin, digest: str, *, valid: bool) -> None:
        if w.public_key is not None and w.chain_pos is not None:
            self._put(w.public_key, w.chain_pos, (digest, w.event_id, w.device_id, valid))
