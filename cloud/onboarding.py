"""Bulk import of households from the agency's lists (CSV or XLSX): check, then import.

A list has one household per row and a header row naming the columns (Indonesian or
English names, any order, any case; see :data:`COLUMNS`)::

    nama;rt;rw;desa;kecamatan;telepon;bank_sampah;kartu
    Siti Aminah;1;3;Karanglewas;Sokaraja;0812-3456-7890;bank01;0004417731

No NIK column is read (there is none to read): the programme needs none. :func:`check`
reports EVERY bad row (line number as the spreadsheet shows it, column, what is wrong)
and changes nothing; :func:`import_households` checks again and imports nothing unless
the whole file is clean, then creates every household, its ledger account and its card
link in ONE transaction (bulk inserts: 7,000 rows take seconds, ``bench/onboarding.py``)
and writes one audit row for the import.

What makes a row bad: no name; a phone that is not an Indonesian mobile number
(:func:`cloud.notifications.phone.normalise_phone`, the one normaliser); an unknown site (or one
outside the caller's reach); a card number that is malformed, repeated in the file or
already linked to a household; a member number that is malformed or taken; the same
household twice (same name and address in the file or already registered).

A member number is made for a row without one: the site's code in capitals and the next
free number, ``BANK01-00042``.

One module of ~420 lines on purpose: the check and the import must apply the same
row rules (the import re-checks the whole file), so both sit with them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cloud import audit
from cloud.db import chunks
from cloud.errors import LedgerError
from cloud.households import household_account_values
from cloud.models import Account, Household, MemberCard, Site
from cloud.notifications.phone import InvalidPhone, normalise_phone

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MEMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
CARD_RE = re.compile(r"^[A-Za-z0-9:_-]{1,64}$")

#: canonical column -> the header names accepted for it (lower case, spaces as "_")
COLUMNS: dict[str, tuple[str, ...]] = {
    "member_no": ("member_no", "no_anggota", "nomor_anggota", "member"),
    "name": ("name", "nama", "nama_kk", "nama_kepala_keluarga", "nama_lengkap"),
    "street": ("address", "alamat", "jalan", "dusun"),
    "rt": ("rt",),
    "rw": ("rw",),
    "desa": ("desa", "kelurahan", "desa_kelurahan", "village"),
    "kecamatan": ("kecamatan", "district"),
    "phone": ("phone", "telepon", "telp", "no_telp", "hp", "no_hp", "nomor_hp", "whatsapp"),
    "site": ("site", "lokasi", "bank_sampah", "site_code", "kode_lokasi"),
    "card": ("card", "card_id", "kartu", "no_kartu", "nomor_kartu"),
}
REQUIRED = ("name", "site")


class ImportFileError(LedgerError):
    """The file itself cannot be read (format, size, header): nothing row by row."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "file"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str
    code: str  # missing_name | bad_phone | unknown_site | bad_card | duplicate_card | ...
    message: str


@dataclass(slots=True)
class Row:
    line: int
    name: str
    address: str | None
    phone: str | None
    site_code: str
    card: str | None
    member_no: str | None
    site_id: int = 0


@dataclass(slots=True)
class Report:
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    good: list[Row] = field(default_factory=list)
    sites: Counter[str] = field(default_factory=Counter)

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})

    @property
    def clean(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Imported:
    households: int
    cards: int
    first_member_no: str | None
    last_member_no: str | None
    household_ids: list[int]


# --------------------------------------------------------------------------- reading


def _key(header: Any) -> str:
    return re.sub(r"[\s/.-]+", "_", str(header or "").strip().lower()).strip("_")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows_xlsx(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(f"not a readable XLSX file ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        book.close()


def _rows_csv(data: bytes) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise ImportFileError("the CSV file is neither UTF-8 nor Windows-1252 text")
    if "\x00" in text:
        raise ImportFileError("the CSV file contains NUL bytes")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def read_table(data: bytes, filename: str) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, {canonical column: text})`` for each non-empty data row of the file."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"
    rows = _rows_xlsx(data) if is_xlsx else _rows_csv(data)
    header = next(rows, None)
    if header is None:
        raise ImportFileError("the file is empty")
    names = {alias: canon for canon, aliases in COLUMNS.items() for alias in aliases}
    where: dict[str, int] = {}
    for i, h in enumerate(header):
        canon = names.get(_key(h))
        if canon is not None and canon not in where:
            where[canon] = i
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        raise ImportFileError(
            f"the header row has no {' or '.join(missing)} column (accepted names: "
            + "; ".join(f"{c}: {', '.join(COLUMNS[c])}" for c in missing)
            + ")"
        )
    for n, raw in enumerate(rows, start=2):
        if n - 1 > MAX_ROWS:
            raise ImportFileError(f"more than {MAX_ROWS} rows: split the file")
        cells = {c: _cell(raw[i]) if i < len(raw) else "" for c, i in where.items()}
        if any(cells.values()):
            yield n, cells


def compose_address(cells: dict[str, str]) -> str | None:
    """``Jl. Mawar 3, RT 001/RW 003, Desa Karanglewas, Kec. Sokaraja`` from the columns."""
    parts = []
    if cells.get("street"):
        parts.append(cells["street"])
    rt, rw = cells.get("rt", ""), cells.get("rw", "")
    if rt or rw:
        pieces = [f"{label} {_pad(v)}" for label, v in (("RT", rt), ("RW", rw)) if v]
        parts.append("/".join(pieces))
    if cells.get("desa"):
        parts.append(f"Desa {cells['desa']}")
    if cells.get("kecamatan"):
        parts.append(f"Kec. {cells['kecamatan']}")
    return ", ".join(parts)[:300] or None


def _pad(v: str) -> str:
    return v.zfill(3) if v.isdigit() else v


def _phone(raw: str) -> str:
    # a phone typed into a number cell loses its leading 0 (812... instead of 0812...)
    return normalise_phone("0" + raw if raw.isdigit() and raw.startswith("8") else raw)


def _identity(name: str, address: str | None) -> str:
    return " ".join(f"{name}|{address or ''}".lower().split())


# --------------------------------------------------------------------------- checking


def check(session: Session, data: bytes, filename: str) -> Report:
    """Every problem of every row; nothing is written. Sites are the caller's reach."""
    report = Report()
    sites = {s.code.lower(): s for s in session.scalars(select(Site))}
    sites.update({s.name.lower(): s for s in sites.values() if s.name.lower() not in sites})
    parsed: list[Row] = []
    seen_cards: dict[str, int] = {}
    seen_members: dict[str, int] = {}
    seen_people: dict[str, int] = {}
    for line, cells in read_table(data, filename):
        report.rows += 1
        problems: list[Problem] = []

        def bad(
            column: str, code: str, message: str, line: int = line, found: list[Problem] = problems
        ) -> None:
            found.append(Problem(line, column, code, message))

        name = " ".join(cells.get("name", "").split())
        if not name:
            bad("name", "missing_name", "no name")
        elif len(name) > 200:
            bad("name", "bad_name", "a name has at most 200 characters")
        phone = None
        if cells.get("phone"):
            try:
                phone = _phone(cells["phone"])
            except InvalidPhone as exc:
                bad("phone", "bad_phone", str(exc))
        site = sites.get(cells.get("site", "").lower())
        if site is None:
            bad(
                "site",
                "unknown_site",
                f"no site {cells.get('site', '')!r}" if cells.get("site") else "no site given",
            )
        card = cells.get("card") or None
        if card is not None:
            if not CARD_RE.match(card):
                bad("card", "bad_card", "a card number is 1-64 letters, digits, ':', '_' or '-'")
            elif card in seen_cards:
                bad("card", "duplicate_card", f"card {card} is also on line {seen_cards[card]}")
            else:
                seen_cards[card] = line
        member = cells.get("member_no") or None
        if member is not None:
            if not MEMBER_RE.match(member):
                bad("member_no", "bad_member_no", "a member number is 1-40 letters, digits, . _ -")
            elif member in seen_members:
                bad(
                    "member_no",
                    "duplicate_member",
                    f"member number {member} is also on line {seen_members[member]}",
                )
            else:
                seen_members[member] = line
        address = compose_address(cells)
        who = _identity(name, address)
        if name and who in seen_people:
            bad("name", "duplicate_member", f"the same name and address as line {seen_people[who]}")
        elif name:
            seen_people[who] = line
        if problems:
            report.problems.extend(problems)
            continue
        assert site is not None
        report.sites[site.code] += 1
        parsed.append(Row(line, name, address, phone, site.code, card, member, site.id))
    _check_against_ledger(session, parsed, report)
    return report


def _check_against_ledger(session: Session, rows: list[Row], report: Report) -> None:
    """What the file cannot see itself: cards, member numbers and people already known."""
    taken_cards: set[str] = set()
    for chunk in chunks(r.card for r in rows if r.card):
        taken_cards.update(
            session.scalars(
                select(MemberCard.card_id).where(MemberCard.card_id.in_(chunk), MemberCard.active)
            )
        )
    taken_members: set[str] = set()
    for chunk in chunks(r.member_no for r in rows if r.member_no):
        taken_members.update(
            session.scalars(select(Household.member_no).where(Household.member_no.in_(chunk)))
        )
    known: set[str] = set()
    for site_ids in chunks({r.site_id for r in rows}):
        known.update(
            _identity(n, a)
            for n, a in session.execute(
                select(Household.name, Household.address).where(Household.site_id.in_(site_ids))
            )
        )
    for r in rows:
        problems = []
        if r.card and r.card in taken_cards:
            problems.append(
                Problem(
                    r.line,
                    "card",
                    "duplicate_card",
                    f"card {r.card} is already linked to a household",
                )
            )
        if r.member_no and r.member_no in taken_members:
            problems.append(
                Problem(
                    r.line, "member_no", "duplicate_member", f"member number {r.member_no} is taken"
                )
            )
        if _identity(r.name, r.address) in known:
            problems.append(
                Problem(
                    r.line, "name", "duplicate_member", "already registered (same name and address)"
                )
            )
        if problems:
            report.problems.extend(problems)
            report.sites[r.site_code] -= 1
        else:
            report.good.append(r)
    report.problems.sort(key=lambda p: p.line)


# --------------------------------------------------------------------------- importing


def _next_numbers(session: Session, prefix: str, count: int, taken: set[str]) -> list[str]:
    """``count`` free member numbers ``PREFIX-00001`` upwards, after the highest in use."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    used = session.scalars(
        select(Household.member_no).where(Household.member_no.startswith(f"{prefix}-"))
    )
    n = max((int(m.group(1)) for x in used if (m := pattern.match(x))), default=0)
    out: list[str] = []
    while len(out) < count:
        n += 1
        candidate = f"{prefix}-{n:05d}"
        if candidate not in taken:
            out.append(candidate)
    return out


def import_households(session: Session, data: bytes, filename: str, *, by: str) -> Imported:
    """Check, then import the whole file in the caller's transaction (flush, no commit).

    Raises :class:`ImportRefused` with the report when any row is bad: nothing is written.
    """
    report = check(session, data, filename)
    if not report.clean:
        raise ImportRefused(report)
    rows = report.good
    given = {r.member_no for r in rows if r.member_no}
    by_site: dict[str, list[Row]] = {}
    for r in rows:
        if r.member_no is None:
            by_site.setdefault(r.site_code, []).append(r)
    for code, pending in by_site.items():
        for r, number in zip(
            pending, _next_numbers(session, code.upper(), len(pending), given), strict=True
        ):
            r.member_no = number
    ids = _bulk_insert(session, rows, by)
    sha = hashlib.sha256(data).hexdigest()
    members = [r.member_no for r in rows if r.member_no]
    audit.record(
        session,
        actor=by,
        action="household.import",
        subject=f"import:{sha[:16]}",
        after={
            "filename": filename[:200],
            "sha256": sha,
            "households": len(rows),
            "cards": sum(1 for r in rows if r.card),
            "sites": dict(report.sites),
            "first_member_no": members[0] if members else None,
            "last_member_no": members[-1] if members else None,
        },
        site_id=rows[0].site_id if len({r.site_id for r in rows}) == 1 else None,
    )
    return Imported(
        households=len(rows),
        cards=sum(1 for r in rows if r.card),
        first_member_no=members[0] if members else None,
        last_member_no=members[-1] if members else None,
        household_ids=ids,
    )


def _bulk_insert(session: Session, rows: Sequence[Row], by: str) -> list[int]:
    """Households, their accounts and card links: three bulk INSERTs (batched by the driver)."""
    if not rows:
        return []
    created = session.execute(
        insert(Household).returning(
            Household.id, Household.member_no, sort_by_parameter_order=True
        ),
        [
            {
                "member_no": r.member_no,
                "name": r.name,
                "site_id": r.site_id,
                "active": True,
                "phone": r.phone,
                "address": r.address,
            }
            for r in rows
        ],
    ).all()
    ids = [hid for hid, _ in created]
    session.execute(
        insert(Account),
        [household_account_values(hid, r.name) for hid, r in zip(ids, rows, strict=True)],
    )
    cards = [
        {"card_id": r.card, "household_id": hid, "active": True, "linked_by": by}
        for hid, r in zip(ids, rows, strict=True)
        if r.card
    ]
    if cards:
        session.execute(insert(MemberCard), cards)
    session.flush()
    return ids


class ImportRefused(LedgerError):
    """The file has bad rows: nothing was imported (``report`` lists every one)."""

    def __init__(self, report: Report) -> None:
        n = len(report.bad_lines)
        super().__init__(f"{n} bad row{'s' if n != 1 else ''}: nothing imported")
        self.report = report


def count_households(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Household)) or 0)
