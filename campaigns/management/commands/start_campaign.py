"""Start (expand) a draft campaign: one recipient per audience contact, messages queued."""
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.services.campaigns import CampaignNotFound, campaign_start


class Command(BaseCommand):
    help = "Expand and start a draft campaign."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)

    def handle(self, *args, campaign_id: int, **options):
        bar = tqdm(desc=f"campaign {campaign_id}", unit="contact", file=self.stderr, disable=options["verbosity"] == 0)
        try:
            result = campaign_start(campaign_id=campaign_id, on_total=lambda n: setattr(bar, "total", n), progress=bar.update)
        except (ValueError, CampaignNotFound) as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(f"campaign {campaign_id}: {result.scheduled} scheduled, {result.skipped} skipped")
        for reason, n in sorted(result.reasons.items()):
            self.stdout.write(f"  skipped ({reason}): {n}")
        for reason, n in sorted(result.excluded.items()):
            self.stdout.write(f"  not in the audience ({reason}): {n}")
        for rep_id, n in sorted(result.per_rep.items()):
            self.stdout.write(f"  rep {rep_id}: {n}")
