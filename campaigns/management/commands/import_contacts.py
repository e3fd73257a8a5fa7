"""Import contacts from a CSV (name,phone,email,timezone,tags,country): all rows or none."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.services.imports import ImportRejected, contacts_import_file


class Command(BaseCommand):
    help = "Import contacts from a CSV file; any bad row is reported and nothing is imported."

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)
        parser.add_argument("--source", default="import", help="the contacts' source (lead scoring weighs it)")

    def handle(self, *args, csv: Path, source: str, **options):
        try:
            raw = csv.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {csv}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(f"{csv} is not UTF-8 text: save the CSV as UTF-8") from None
        quiet = options["verbosity"] == 0
        checking = tqdm(desc="checking", unit="row", file=self.stderr, disable=quiet)
        saving = tqdm(desc="importing", unit="contact", file=self.stderr, disable=quiet)
        try:
            report = contacts_import_file(text=text, source=source, validate_progress=checking.update,
                                       on_validated=lambda n: saving.reset(total=n), progress=saving.update)
        except ImportRejected as rejected:
            for error in rejected.errors:
                self.stderr.write(f"row {error.row}: {error.field}: {error.error}")
            raise CommandError(str(rejected)) from None
        finally:
            checking.close()
            saving.close()
        updated = f", {len(report.updated)} updated (contacts {', '.join(map(str, report.updated))})" if report.updated else ""
        self.stdout.write(f"{len(report.created)} contact(s) imported{updated}")
