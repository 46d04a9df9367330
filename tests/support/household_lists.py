"""A household list as an agency sends it (CSV, ``;``-separated, Indonesian headers) with
bad rows planted at known lines: shared by the onboarding test and ``bench/onboarding.py``."""

from __future__ import annotations

HEADER = "nama;rt;rw;desa;kecamatan;telepon;bank_sampah;kartu\n"

#: what is wrong with each planted row, in the order they are planted
PLANTED = (
    "bad_phone",
    "bad_phone",
    "bad_phone",  # a landline, letters, too short
    "unknown_site",
    "unknown_site",
    "unknown_site",
    "duplicate_card",
    "duplicate_card",  # a card also on an earlier line
    "taken_card",  # a card already linked to a registered household
    "missing_name",
    "duplicate_person",  # same name and address as an earlier line
    "bad_card",
)

BAD_PHONES = ("021 555 1234", "08abc", "0812")


def household_list(
    n: int, *, site: str, taken_card: str, planted: bool = True, prefix: str = "W"
) -> tuple[bytes, list[int]]:
    """``n`` rows (lines 2..n+1); with ``planted``, :data:`PLANTED` spread over the file.

    Returns the file and the spreadsheet line numbers of the planted rows.
    """
    step = max(n // (len(PLANTED) + 1), 3)
    at = {2 + step * (k + 1): kind for k, kind in enumerate(PLANTED)} if planted else {}
    assert not at or max(at) <= n + 1, "too few rows for the planted ones"
    phones = iter(BAD_PHONES)
    out = [HEADER]
    for i in range(n):
        line = i + 2
        name, rt, desa = f"Warga {prefix}{i:05d}", f"{i % 12 + 1}", f"Desa {i % 40}"
        phone, where, card = f"0812{5_000_000 + i:07d}", site, f"{prefix}C{i:06d}"
        kind = at.get(line)
        if kind == "bad_phone":
            phone = next(phones)
        elif kind == "unknown_site":
            where = "bank-nowhere"
        elif kind == "duplicate_card":
            card = f"{prefix}C{0:06d}"  # line 2's card
        elif kind == "taken_card":
            card = taken_card
        elif kind == "missing_name":
            name = ""
        elif kind == "duplicate_person":
            name, rt, desa = f"Warga {prefix}{1:05d}", "2", "Desa 1"  # line 3's person
        elif kind == "bad_card":
            card = "KARTU RUSAK!"
        out.append(f"{name};{rt};4;{desa};Sokaraja;{phone};{where};{card}\n")
    return "".join(out).encode(), sorted(at)
