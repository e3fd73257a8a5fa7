"""Importing a contacts CSV from the command line: validated by inbox.contact_import (the same
pure checks the API uses), all or nothing, then scored. The API's limit of rows per file is
lifted by validating the file in chunks of that size, with row numbers kept as in the file."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.db import transaction

from campaigns.services.scores import contacts_rescore
from core.logs import entity_log
from inbox.contact_import import MAX_ROWS, ContactRow, RowError, parse_contacts_csv
from inbox.services.contacts import ImportReport, contacts_import_rows

log = entity_log("contacts")


class ImportRejected(Exception):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} problem(s) in the file: nothing was imported")
        self.errors = errors


@dataclass
class _Chunk:
    text: str
    lines: dict[int, int]  # line number in the chunk → line number in the file


def _chunks(text: str) -> tuple[list[_Chunk], list[RowError]]:
    """The file as header + up to MAX_ROWS rows per chunk, each re-written as CSV text."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        rows = [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:
        return [], [RowError(reader.line_num, "file", f"not a CSV file: {exc}")]
    if header is None:
        return [_Chunk(text, {})], []
    chunks = []
    for i in range(0, max(len(rows), 1), MAX_ROWS):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        lines = {1: 1}
        for file_line, cells in rows[i:i + MAX_ROWS]:
            writer.writerow(cells)
            lines[out.getvalue().count("\n")] = file_line
        chunks.append(_Chunk(out.getvalue(), lines))
    return chunks, []


def contacts_validate_file(text: str, progress: Callable[[int], None] | None = None) -> tuple[list[ContactRow], list[RowError]]:
    chunks, errors = _chunks(text)
    rows: list[ContactRow] = []
    for chunk in chunks:
        got, problems = parse_contacts_csv(chunk.text)
        rows += [replace(r, row=chunk.lines.get(r.row, r.row)) for r in got]
        errors += [RowError(chunk.lines.get(e.row, e.row), e.field, e.error) for e in problems
                   if not (e.row == 0 and e.error == "the file has no contacts" and len(chunks) > 1)]
        if progress:
            progress(len(got) + len({e.row for e in problems}))
    seen: dict[str, int] = {}
    for row in rows:  # duplicates across chunks (each chunk checked its own)
        if not row.phone:
            continue
        if row.phone in seen:
            errors.append(RowError(row.row, "phone", f"{row.phone} is already on row {seen[row.phone]}"))
        else:
            seen[row.phone] = row.row
    return rows, sorted(set(errors), key=lambda e: (e.row, e.field, e.error))


def contacts_import_file(*, text: str, source: str = "import", on_validated: Callable[[int], None] | None = None,
                         progress: Callable[[int], None] | None = None,
                         validate_progress: Callable[[int], None] | None = None) -> ImportReport:
    """Every row or none: any problem raises ImportRejected listing them all. Rows that match a
    stored contact (phone, else e-mail) update it; the report names them."""
    rows, errors = contacts_validate_file(text, validate_progress)
    if errors:
        raise ImportRejected(errors)
    if on_validated:
        on_validated(len(rows))
    with transaction.atomic():
        report = contacts_import_rows(rows=rows, owner=None, source=source, progress=progress)
        contacts_rescore(contact_ids=report.created + report.updated)
    log.info("contacts imported", count=len(report.created), updated=len(report.updated), source=source)
    return report
