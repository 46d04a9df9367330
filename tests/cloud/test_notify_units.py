"""Notification building blocks without a database: phones, SMS parts, templates, timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.notifications.channels.sms import GSM7, UCS2, split_sms
from cloud.notifications.phone import InvalidPhone, normalise_phone
from cloud.notifications.preferences import quiet_until
from cloud.notifications.queue import Policy
from cloud.notifications.templates import TemplateError, load_templates, parse_templates
from salinmas.formats import kilograms, local_time, rupiah

# realistic, long-ish values for every template field
SAMPLE = {
    "member_no": "BMS-0012",
    "kg": "12,34 kg",
    "category": "Plastik PET (botol)",
    "rupiah": "Rp 37.020",
    "balance": "Rp 1.234.560",
    "time": "01-12-2026 17:53 WIB",
    "verification": " Kode: 7K3Q-X9M2-PA4T",
    "event_id": "st-demo-01:123456",
    "reason": "salah kartu",
    "due": "02-12-2026 09:00 WIB",
    "pickup_id": "1234",
    "collector": "Pak Slamet",
    "site": "Bank Sampah Sokaraja",
    "device": "st-demo-01",
    "since": "01-12-2026 17:53 WIB",
    "bin": "bin-demo-03",
    "fill": "85%",
    "count": "120",
    "window": "15 menit",
    "price": "Rp 3.000/kg",
}


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("0812 3456 789", "+628123456789"),
        ("6281234567890", "+6281234567890"),
        ("62 812 3456 7890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("+62 (0)812 3456 7890", "+6281234567890"),
        ("+620812 3456 7890", "+6281234567890"),
        ("0857.1234.5678", "+6285712345678"),
    ],
)
def test_indonesian_forms_become_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "no phone"),
        ("021 555 1234", "not an Indonesian mobile"),
        ("+1 415 555 2671", "not an Indonesian number"),
        ("0812", "10 to 13 digits"),
        ("08123456789012345", "10 to 13 digits"),
        ("0812-3456-789x", "only digits"),
        ("812345678", r"must start with 0, 62 or \+62"),
    ],
)
def test_invalid_numbers_are_refused_without_repeating_them(raw: str, why: str) -> None:
    with pytest.raises(InvalidPhone, match=why) as info:
        normalise_phone(raw)
    assert "812" not in str(info.value)
    assert "555" not in str(info.value)


def test_sms_single_part_gsm7_and_ucs2() -> None:
    one = split_sms("x" * 160)
    assert one.coding == GSM7
    assert len(one.parts) == 1
    assert one.udh == ("",)
    assert split_sms("é" * 70).parts == ("é" * 70,)  # é is in the GSM 7-bit set
    u = split_sms("→" * 70)
    assert u.coding == UCS2
    assert len(u.parts) == 1


def test_sms_long_text_is_split_with_concatenation_headers() -> None:
    """mutant: no room for the header (parts of 160) -> fails."""
    text = "a" * 153 + "b" * 153 + "c"
    p = split_sms(text, ref=0x1FF)
    assert p.parts == ("a" * 153, "b" * 153, "c")
    assert p.udh == ("050003FF0301", "050003FF0302", "050003FF0303")
    assert "".join(p.parts) == text


def test_sms_extension_characters_count_double_and_stay_whole() -> None:
    p = split_sms("{" * 81)  # 162 septets: two parts of at most 153 septets
    assert [len(x) for x in p.parts] == [76, 5]
    assert split_sms("{" * 80).parts == ("{" * 80,)


def test_every_template_renders_in_both_languages() -> None:
    t = load_templates()
    assert {
        "weighin_credited",
        "reversal",
        "pickup_scheduled",
        "pickup_on_the_way",
        "pickup_completed",
        "payout_ready",
        "payout_paid",
        "device_offline",
        "bin_full",
        "dead_letters_rising",
    } <= set(t.events)
    for event in t.events:
        for lang in ("id", "en"):
            r = t.render(event, lang, SAMPLE)
            assert r.text
            assert r.title
            assert "{" not in r.text


def test_household_texts_fit_one_plain_sms() -> None:
    """Feature phones: one GSM-7 SMS (160 characters) with long realistic values."""
    t = load_templates()
    for event, tpl in t.events.items():
        if tpl.audience != "household":
            continue
        for lang in ("id", "en"):
            text = t.render(event, lang, SAMPLE).text
            assert text.isascii(), (event, lang)
            assert len(split_sms(text).parts) == 1, (event, lang, len(text))


def test_a_missing_value_or_unknown_event_is_a_template_error() -> None:
    t = load_templates()
    with pytest.raises(TemplateError, match="no value for balance"):
        t.render("weighin_credited", "id", {k: v for k, v in SAMPLE.items() if k != "balance"})
    with pytest.raises(TemplateError, match="unknown notification event"):
        t.render("nope", "id", SAMPLE)
    with pytest.raises(TemplateError, match="needs a text for each"):
        parse_templates({"x": {"audience": "household", "id": "a"}})
    with pytest.raises(TemplateError, match="unknown keys"):
        parse_templates({"x": {"audience": "household", "id": "a", "en": "b", "fr": "c"}})


def test_formats_the_indonesian_way() -> None:
    assert rupiah(2640) == "Rp 2.640"
    assert rupiah(0) == "Rp 0"
    assert rupiah(-1500) == "-Rp 1.500"
    assert kilograms(1250) == "1,25 kg"
    assert kilograms(1250, lang="en") == "1.25 kg"
    assert local_time(datetime(2026, 12, 1, 10, 53, tzinfo=UTC)) == "01-12-2026 17:53 WIB"


TZ = "Asia/Jakarta"  # UTC+7


@pytest.mark.parametrize(
    ("utc_hour", "window", "until_utc"),
    [
        (15, ("21:00", "06:00"), datetime(2026, 12, 1, 23, 0, tzinfo=UTC)),  # 22:00 WIB
        (20, ("21:00", "06:00"), datetime(2026, 12, 1, 23, 0, tzinfo=UTC)),  # 03:00 WIB next day
        (23, ("21:00", "06:00"), None),  # 06:00 WIB: over
        (13, ("21:00", "06:00"), None),  # 20:00 WIB: not yet
        (5, ("12:00", "13:30"), datetime(2026, 12, 1, 6, 30, tzinfo=UTC)),  # 12:00 WIB
        (15, ("06:00", "06:00"), None),  # start == end: none
        (15, None, None),
    ],
)
def test_quiet_until(
    utc_hour: int, window: tuple[str, str] | None, until_utc: datetime | None
) -> None:
    """mutant: the wrap-around window ignores the part after midnight -> 03:00 WIB case fails."""
    now = datetime(2026, 12, 1, utc_hour, 0, tzinfo=UTC)
    assert quiet_until(now, window, TZ) == until_utc


def test_backoff_doubles_up_to_the_cap() -> None:
    p = Policy(sender="t", backoff_base_s=30, backoff_max_s=600)
    assert [p.backoff(n) for n in (1, 2, 3, 5, 9)] == [
        timedelta(seconds=s) for s in (30, 60, 120, 480, 600)
    ]
