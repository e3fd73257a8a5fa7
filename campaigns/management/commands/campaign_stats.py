"""Print a campaign's statistics (the same figures as GET /api/campaigns/<id>/stats/)."""
import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.models import Campaign
from campaigns.selectors import campaign_stats


class Command(BaseCommand):
    help = "Recipients by state (with reasons), per rep and per hour."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, campaign_id: int, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"campaign {campaign_id} not found")
        with tqdm(total=1, desc="counting", file=self.stderr, disable=options["verbosity"] == 0) as bar:
            stats = campaign_stats(campaign)
            bar.update(1)
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        out = self.stdout.write
        out(f"campaign {stats['campaign_id']} {stats['name']!r} ({stats['status']}): {stats['recipients']} recipients")
        for state, n in stats["by_state"].items():
            out(f"  {state:<10} {n}")
            for reason, count in stats["reasons"].get(state, {}).items():
                out(f"    {reason}: {count}")
        rate = stats["delivery_rate"]
        out(f"  delivery rate: {rate:.1%}" if rate is not None else "  delivery rate: n/a")
        out(f"  windows: kept {stats['clip']['kept']}, narrowed {stats['clip']['narrowed']}, skipped {stats['clip']['skipped']}")
        out("per rep:")
        for row in stats["per_rep"]:
            states = ", ".join(f"{s} {row[s]}" for s in stats["by_state"] if row[s])
            out(f"  {row['rep_name'] or row['rep_id'] or 'unassigned'}: {row['total']} ({states})")
        out("per hour (UTC):")
        for row in stats["per_hour"]:
            out(f"  {row['hour']}: sent {row['sent']}, delivered {row['delivered']}, read {row['read']}")
