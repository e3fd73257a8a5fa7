"""Find contacts that are one person (same E.164 phone or the same e-mail address) and merge each
group into its oldest contact; --dry-run lists the groups and changes nothing."""
from django.core.management.base import BaseCommand
from tqdm import tqdm

from inbox.selectors import duplicate_groups
from inbox.services.merge import contacts_merge


class Command(BaseCommand):
    help = "Merge contacts that share a phone number or an e-mail address into the oldest of each group."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list the groups, merge nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        groups = duplicate_groups()
        if not groups:
            self.stdout.write("no duplicate contacts")
            return
        merged = 0
        for group in tqdm(groups, desc="merging" if not dry_run else "checking", unit="group", disable=dry_run or None):
            keep, *others = group.contact_ids
            if dry_run:
                self.stdout.write(f"would merge {', '.join(map(str, others))} into {keep} (same {group.key}: {group.value})")
                continue
            for other in others:
                contacts_merge(keep_id=keep, duplicate_id=other, reason=f"same {group.key}")
                merged += 1
        if dry_run:
            self.stdout.write(f"{len(groups)} group(s) of duplicates; run without --dry-run to merge them")
        else:
            self.stdout.write(self.style.SUCCESS(f"merged {merged} contact(s) in {len(groups)} group(s)"))
