"""Pure validation of a contacts CSV (name,phone,email,timezone,tags,country): no database, so the
API and a management command share it. Rows are numbered as a spreadsheet shows them (header = 1)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from salesreps.rules import validate_tz

COLUMNS = ("name", "phone", "email", "timezone", "tags", "country")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
FILE_ROW, HEADER_ROW = 0, 1


@dataclass(frozen=True)
class ContactRow:
    row: int
    name: str
    phone: str  # E.164 or ""
    email: str
    timezone: str
    tags: tuple[str, ...]
    country: str


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    error: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "error": self.error}


def normalize_phone(raw: str, country: str = "") -> str:
    """E.164 form of `raw`, read in `country` when it has no +prefix; ValueError says why not."""
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        if not raw.startswith("+") and not country:
            raise ValueError(f"{raw!r} has no country code: start it with + or fill the country column") from None
        raise ValueError(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number" + (f" in {country}" if country else ""))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text: save the CSV as UTF-8") from None


def _row(row_number: int, values: dict[str, str], seen_phones: dict[str, int]) -> tuple[ContactRow | None, list[RowError]]:
    errors: list[RowError] = []

    def bad(field: str, error: str) -> None:
        errors.append(RowError(row_number, field, error))

    name = values.get("name", "")
    if len(name) > 200:
        bad("name", "longer than 200 characters")
    country = values.get("country", "").upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        bad("country", f"{country!r} is not a two-letter ISO 3166 country code")
        country_for_phone = ""
    else:
        country_for_phone = country
    phone = ""
    if values.get("phone"):
        try:
            phone = normalize_phone(values["phone"], country_for_phone)
        except ValueError as exc:
            bad("phone", str(exc))
        else:
            if phone in seen_phones:
                bad("phone", f"{phone} is already on row {seen_phones[phone]}")
            else:
                seen_phones[phone] = row_number
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            bad("email", f"{email!r} is not an e-mail address")
    if not values.get("phone") and not email:
        bad("phone", "a contact needs a phone or an e-mail")
    tz = values.get("timezone", "") or "UTC"
    try:
        validate_tz(tz)
    except ValueError:
        bad("timezone", f"unknown time zone {tz!r} (use an IANA name like Europe/Paris)")
    tags: list[str] = []
    for tag in (t.strip() for t in values.get("tags", "").split(";")):
        if not tag or tag in tags:
            continue
        if len(tag) > 50:
            bad("tags", f"tag {tag[:20]!r}… is longer than 50 characters")
        tags.append(tag)
    if errors:
        return None, errors
    return ContactRow(row_number, name, phone, email, tz, tuple(tags), country), []


def parse_contacts_csv(data: bytes | str) -> tuple[list[ContactRow], list[RowError]]:
    """Every valid row, and every problem found (all of them, not just the first)."""
    try:
        text = _decode(data)
    except ValueError as exc:
        return [], [RowError(FILE_ROW, "file", str(exc))]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [RowError(HEADER_ROW, "file", f"not a CSV file: {exc}")]
    if not header or not any(h.strip() for h in header):
        return [], [RowError(HEADER_ROW, "file", f"the file has no header row (expected {','.join(COLUMNS)})")]
    columns = [h.strip().lower() for h in header]
    errors = [RowError(HEADER_ROW, c or "(blank)", f"unknown column (expected some of {','.join(COLUMNS)})")
              for c in columns if c not in COLUMNS]
    errors += [RowError(HEADER_ROW, c, "column appears twice") for c in sorted(set(columns)) if columns.count(c) > 1]
    if "phone" not in columns and "email" not in columns:
        errors.append(RowError(HEADER_ROW, "phone", "the file needs a phone or an email column"))
    if errors:
        return [], errors
    rows: list[ContactRow] = []
    seen_phones: dict[str, int] = {}
    count = 0
    try:
        for cells in reader:
            row_number = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                errors.append(RowError(row_number, "file", f"more than {MAX_ROWS} contacts: split the file"))
                break
            if len(cells) > len(columns):
                errors.append(RowError(row_number, "file", f"{len(cells)} cells for {len(columns)} columns"))
                continue
            values = {col: cell.strip() for col, cell in zip(columns, cells, strict=False)}  # short rows: blank tail
            row, row_errors = _row(row_number, values, seen_phones)
            errors += row_errors
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "file", f"not a CSV file: {exc}"))
    if not count and not errors:
        errors.append(RowError(FILE_ROW, "file", "the file has no contacts"))
    return rows, errors
