"""The fraud rules as data: each rule's parameters and its plain explanation.

:data:`DEFAULTS` seeds the ``fraud_rules`` table (:func:`ensure_rules`); from then on
the table is the truth — an administrator changes a threshold with
:func:`update_rule`, and every scan reads the rows. The explanations carry the
parameters as ``{placeholders}`` (:func:`explain`), so what an operator reads always
matches the threshold in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import LedgerError, NotFound
from cloud.models import utcnow
from cloud.models.fraud import FraudRule


@dataclass(frozen=True, slots=True)
class RuleDefault:
    code: str
    params: dict[str, float]
    explanation_id: str
    explanation_en: str


DEFAULTS: tuple[RuleDefault, ...] = (
    RuleDefault(
        "card_two_stations",
        {"minutes": 30, "different_sites": 1},
        "Kartu yang sama dipakai di dua stasiun (di lokasi berbeda) dalam {minutes} menit: "
        "kartu mungkin digandakan atau dipinjamkan.",
        "The same card was used at two stations (at different sites) within {minutes} "
        "minutes: the card may be copied or lent.",
    ),
    RuleDefault(
        "outside_hours",
        {"grace_minutes": 15, "min_weighins": 1},
        "Ada {min_weighins} penimbangan atau lebih di luar jam buka lokasi (lebih dari "
        "{grace_minutes} menit sebelum buka atau sesudah tutup).",
        "{min_weighins} or more weigh-ins outside the site's opening hours (more than "
        "{grace_minutes} minutes before opening or after closing).",
    ),
    RuleDefault(
        "repeated_weights",
        {"days": 14, "repeats": 3, "min_g": 500},
        "Satu nasabah menimbang berat yang persis sama (minimal {min_g} g, kategori sama) "
        "{repeats} kali atau lebih dalam {days} hari: timbangan mungkin diulang atau diatur.",
        "One household weighed exactly the same weight (at least {min_g} g, same category) "
        "{repeats} or more times within {days} days: a weighing may be replayed or staged.",
    ),
    RuleDefault(
        "household_outlier",
        {"days": 30, "factor": 8, "min_kg": 50},
        "Satu nasabah menyetor lebih dari {factor} kali median tetangganya di lokasi yang "
        "sama dalam {days} hari (dan minimal {min_kg} kg).",
        "One household brought more than {factor} times the median of its neighbours at "
        "the same site within {days} days (and at least {min_kg} kg).",
    ),
    RuleDefault(
        "station_jump",
        {
            "days": 7,
            "baseline_days": 14,
            "ratio": 1.15,
            "ratio_day": 1.6,
            "min_weighins": 30,
            "min_kg": 20,
        },
        "Dalam {days} hari terakhir, berat per penimbangan sebuah stasiun (untuk kategori yang "
        "sama) naik {ratio} kali atau lebih, atau kg per hari bukanya naik {ratio_day} kali "
        "atau lebih, dibanding {baseline_days} hari sebelumnya: timbangan mungkin tidak jujur.",
        "Over the last {days} days a station's weight per weigh-in (category by category) "
        "rose {ratio} times or more, or its kg per open day {ratio_day} times or more, against "
        "the {baseline_days} days before: the scale may be rigged.",
    ),
    RuleDefault(
        "unassigned_assigned",
        {"days": 30, "count": 4},
        "Penimbangan tanpa kartu dari {count} kesempatan atau lebih (satu stasiun pada satu "
        "hari) dimasukkan ke satu nasabah dalam {days} hari: setoran orang lain mungkin "
        "dialihkan.",
        "Weigh-ins without a card from {count} or more occasions (one station on one day) "
        "were assigned to one household within {days} days: other people's waste may be "
        "diverted to it.",
    ),
    RuleDefault(
        "collector_gap",
        {"days": 7, "gap_pct": 10, "min_kg": 5},
        "Kg yang ditimbang petugas jemput di rumah nasabah lebih dari {gap_pct} % (dan minimal "
        "{min_kg} kg) di atas kg yang sampai di gudang dalam {days} hari.",
        "The kg a collector weighed at the doors exceeded what reached the depot by more "
        "than {gap_pct} % (and at least {min_kg} kg) within {days} days.",
    ),
)

BY_CODE = {d.code: d for d in DEFAULTS}


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def explain(text: str, params: dict[str, Any]) -> str:
    """An explanation with its ``{placeholders}`` filled from ``params``."""
    for k, v in params.items():
        text = text.replace("{" + k + "}", _fmt(v))
    return text


def ensure_rules(session: Session) -> dict[str, FraudRule]:
    """Every rule's row (missing ones created from :data:`DEFAULTS`), by code. Flushes."""
    rows = {r.code: r for r in session.scalars(select(FraudRule))}
    for d in DEFAULTS:
        if d.code not in rows:
            rows[d.code] = FraudRule(
                code=d.code,
                enabled=True,
                params=dict(d.params),
                explanation_id=d.explanation_id,
                explanation_en=d.explanation_en,
            )
            session.add(rows[d.code])
    session.flush()
    return rows


def params_of(rule: FraudRule) -> dict[str, float]:
    """The rule's parameters, defaults filled in for keys the row lacks."""
    merged: dict[str, float] = dict(BY_CODE[rule.code].params) if rule.code in BY_CODE else {}
    merged.update({k: float(v) for k, v in (rule.params or {}).items() if k in merged})
    return merged


def update_rule(
    session: Session,
    *,
    code: str,
    by: str,
    params: dict[str, float] | None = None,
    enabled: bool | None = None,
) -> FraudRule:
    """Change a rule's parameters (only its known keys, each >= 0) or switch it on/off."""
    rule = ensure_rules(session).get(code)
    if rule is None:
        raise NotFound(f"unknown fraud rule {code!r}")
    if params:
        known = BY_CODE[code].params
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise LedgerError(
                f"rule {code} has no parameter {unknown[0]!r} (it has {', '.join(sorted(known))})"
            )
        for k, v in params.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1e9:
                raise LedgerError(f"{k} must be a number, 0 or more")
        rule.params = {**params_of(rule), **{k: float(v) for k, v in params.items()}}
    if enabled is not None:
        rule.enabled = enabled
    rule.updated_at, rule.updated_by = utcnow(), by
    session.flush()
    return rule
