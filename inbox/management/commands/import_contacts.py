"""manage.py import_contacts FILE --user NAME: the API's all-or-nothing CSV import, from a shell."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inbox.services.contacts import ContactImportRejected, contact_import


class Command(BaseCommand):
    help = "Import contacts from a CSV (name,phone,email,timezone,tags,country): every row or none."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True,
                            help="Import as this user: their rep owns the contacts (an admin's stay unowned).")

    def handle(self, *args, file: Path, user: str, **options):
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"no active user {user!r}")
        try:
            contacts = contact_import(user=account, data=file.read_bytes())
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        except ContactImportRejected as rejected:
            for error in rejected.errors:
                self.stderr.write(f"row {error['row']}, {error['field']}: {error['error']}")
            raise CommandError(str(rejected)) from None
        self.stdout.write(f"imported {len(contacts)} contacts")
