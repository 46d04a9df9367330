"""The exact bytes a station signs, and the hashes that chain its weigh-ins.

A third party can verify a weigh-in record with nothing but this description, a JSON
parser, SHA-256 and Ed25519 (RFC 8032):

1. Take the weigh-in's fields (``docs/contract.md``), *all* of them with their defaults
   filled in (``tare_g`` 0, ``frames`` [], ``stable_ms`` 0, ``card_id`` null), **except
   ``signature``** — :data:`SIGNED_FIELDS`, in any order.
2. Normalise two values: ``device_time`` as UTC with six fractional digits and a ``Z``
   (``2026-11-29T01:15:00.000000Z``), ``boot_id`` in lower-case ``8-4-4-4-12`` form.
3. Serialise as JSON with the keys sorted, no whitespace (``","`` and ``":"``), ASCII
   only (every field of the contract is ASCII by its pattern), integers as integers,
   ``true``/``false``/``null`` as such.
4. Prefix the domain tag ``salinmas/weighin/v1`` and a line feed: these are the
   **signed bytes** (:func:`signed_bytes`).
5. ``signature`` is the Ed25519 signature of the signed bytes by ``public_key`` (both
   hex); the **record hash** is the SHA-256 of the signed bytes, in hex
   (:func:`record_hash`).
6. The chain: each record's ``prev_hash`` is the record hash of the previous weigh-in
   signed with the same key (``chain_pos`` one lower); the first (``chain_pos`` 1) has
   64 zeros.

>>> from contract.models import GENESIS_HASH
>>> len(GENESIS_HASH), record_hash(b"x")[:8]
(64, '2d711642')

The metrological configuration a station reports (:class:`contract.models.DeviceConfig`)
is hashed the same way (:func:`config_hash`), with the domain tag
``salinmas/config/v1``; a weigh-in names the configuration it was made under by that hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contract.models import DeviceConfig, Weighin

WEIGHIN_DOMAIN = b"salinmas/weighin/v1\n"
CONFIG_DOMAIN = b"salinmas/config/v1\n"

#: every field of a weigh-in but its signature
SIGNED_FIELDS: tuple[str, ...] = tuple(f for f in Weighin.model_fields if f != "signature")

#: the fields of a station's metrological configuration (hashed into ``config_hash``)
CONFIG_FIELDS = (
    "protocol",
    "division_g",
    "capacity_g",
    "min_divisions",
    "stable_window_ms",
    "min_stable_samples",
    "calibration",
)


def canonical_time(t: datetime) -> str:
    """``2026-11-29T01:15:00.000000Z``: UTC, six fractional digits, ``Z``.

    The text of ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")``, formatted from the fields (a
    third of its CPU: three times per weigh-in in the ingest); years before 1000, which
    ``%Y`` writes without leading zeros, through ``strftime`` itself."""
    u = t.astimezone(UTC)
    if u.year < 1000:
        return u.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _TIME % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


_TIME = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, ASCII (RFC 8785 for the contract's flat records)."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def signed_bytes(weighin: Weighin) -> bytes:
    """The bytes the station signs (see the module docs); ``signature`` is not in them."""
    record: dict[str, Any] = {name: getattr(weighin, name) for name in SIGNED_FIELDS}
    record["device_time"] = canonical_time(weighin.device_time)
    record["boot_id"] = str(weighin.boot_id)
    record["frames"] = list(weighin.frames)
    return WEIGHIN_DOMAIN + canonical_json(record)


def record_hash(data: bytes | Weighin) -> str:
    """SHA-256 (hex) of a weigh-in's signed bytes: what the next record's ``prev_hash`` is."""
    raw = signed_bytes(data) if isinstance(data, Weighin) else data
    return hashlib.sha256(raw).hexdigest()


def config_hash(config: Mapping[str, Any] | DeviceConfig) -> str:
    """SHA-256 (hex) of a metrological configuration's :data:`CONFIG_FIELDS`."""
    get = config.get if isinstance(config, Mapping) else lambda k: getattr(config, k)
    return hashlib.sha256(
        CONFIG_DOMAIN + canonical_json({k: get(k) for k in CONFIG_FIELDS})
    ).hexdigest()
