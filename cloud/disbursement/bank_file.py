"""The bank transfer file: Bank Mandiri's Cash Management (MCM) bulk upload, CSV.

Format: "Payroll – Multi Service – File Structure" (Mandiri Cash Management), one header
record then one detail record per transfer, comma separated, no header names:

header  1 ``P``  2 instruction date ``yyyyMMdd``  3 debit account no.  4 number of detail
        records  5 total amount (``.`` as decimal separator)
detail  1 beneficiary account no. (35)  2 beneficiary account name (40)  3-5 beneficiary
        address 1-3 (35 each; empty for domestic)  6 currency (``IDR``)  7 amount
        (18.2, ``.`` separator)  8 remark (140)  9 customer reference (19)  10 FT service
        (``IBU`` in-house Mandiri, ``LBU`` LLG/SKN, ``RBU`` RTGS, ``BAU`` BI-FAST by account
        number)  11 beneficiary bank code  12 beneficiary bank name

Fields after the 12th of the bank's document (notification flags and the like) are left
out; check the current specification with the bank before the first live upload. The
programme's own payout id is the customer reference, so the bank's statement matches
back to the payouts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

MANDIRI = "008"
#: a few common bank codes (Bank Indonesia clearing codes) and their names
BANKS = {
    "002": "BANK BRI",
    "008": "BANK MANDIRI",
    "009": "BANK BNI",
    "014": "BANK BCA",
    "022": "BANK CIMB NIAGA",
    "451": "BANK SYARIAH INDONESIA",
    "200": "BANK BTN",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9 .,/()-]")


@dataclass(frozen=True, slots=True)
class Transfer:
    account: str
    account_name: str
    amount_rp: int
    bank_code: str
    reference: str
    remark: str


def _clean(text: str, width: int) -> str:
    """Bank files take plain ASCII: no commas inside fields, nothing a spreadsheet runs.

    Not :func:`cloud.api.csvfile.safe_cell`: the bank's system would keep its ``'`` as
    part of the name. The allow-list leaves no ``=``, ``+``, ``@``, tab or CR, and a
    leading ``-`` (the one formula start it lets through) is dropped.
    """
    return _UNSAFE.sub("", text.replace(",", " ")).strip().lstrip("- ")[:width]


def mandiri_mcm(transfers: Sequence[Transfer], *, debit_account: str, on: date) -> bytes:
    if not re.fullmatch(r"\d{5,40}", debit_account):
        raise ValueError("the debit account is 5-40 digits")
    if not transfers:
        raise ValueError("a transfer file needs at least one transfer")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    total = sum(t.amount_rp for t in transfers)
    w.writerow(["P", on.strftime("%Y%m%d"), debit_account, len(transfers), f"{total}.00"])
    for t in transfers:
        if not re.fullmatch(r"\d{5,35}", t.account) or t.amount_rp <= 0:
            raise ValueError(f"transfer {t.reference}: bad account or amount")
        service = "IBU" if t.bank_code == MANDIRI else "BAU"
        w.writerow(
            [
                t.account,
                _clean(t.account_name, 40),
                "",
                "",
                "",
                "IDR",
                f"{t.amount_rp}.00",
                _clean(t.remark, 140),
                _clean(t.reference, 19),
                service,
                "" if service == "IBU" else t.bank_code,
                "" if service == "IBU" else BANKS.get(t.bank_code, ""),
            ]
        )
    return buf.getvalue().encode("ascii")
