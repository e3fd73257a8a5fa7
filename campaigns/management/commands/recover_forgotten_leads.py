"""Give forgotten leads another attempt in the next slot of each live slot campaign."""
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.services.slots import DEFAULT_MAX_ATTEMPTS, forgotten_leads_recover


class Command(BaseCommand):
    help = ("Plan a message in the next slot for every contact with fewer than N attempts, not converted, "
            "with no pending message and no open conversation with a rep.")

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, action="append", dest="campaign_ids", help="only this campaign (repeatable)")
        parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)

    def handle(self, *args, campaign_ids, max_attempts: int, **options):
        bar = tqdm(desc="leads", unit="contact", file=self.stderr, disable=options["verbosity"] == 0)

        def on_total(n: int) -> None:
            bar.reset(total=n)

        try:
            totals = forgotten_leads_recover(campaign_ids=campaign_ids, max_attempts=max_attempts, on_total=on_total,
                                             progress=bar.update)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(f"{totals['planned']} lead(s) planned, {totals['no_slot']} without a slot left")
