"""Stop live campaigns: pause them (resumable), or with --cancel withdraw their unsent messages."""
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_cancel, campaign_pause


class Command(BaseCommand):
    help = "Pause every scheduled or running campaign (or the ids given); --cancel cancels them instead."

    def add_arguments(self, parser):
        parser.add_argument("campaign_ids", nargs="*", type=int)
        parser.add_argument("--cancel", action="store_true", help="cancel (withdraw unsent messages) instead of pausing")

    def handle(self, *args, campaign_ids: list[int], cancel: bool, **options):
        statuses = ["scheduled", "running"] + (["paused", "draft"] if cancel else [])
        live = Campaign.objects.filter(status__in=statuses)
        if campaign_ids:
            missing = set(campaign_ids) - set(live.filter(pk__in=campaign_ids).values_list("id", flat=True))
            if missing:
                raise CommandError(f"not {' or '.join(statuses)}: campaign(s) {', '.join(map(str, sorted(missing)))}")
            live = live.filter(pk__in=campaign_ids)
        ids = list(live.order_by("id").values_list("id", flat=True))
        verb, service = ("cancelled", campaign_cancel) if cancel else ("paused", campaign_pause)
        for campaign_id in tqdm(ids, desc="campaigns", unit="campaign", file=self.stderr, disable=options["verbosity"] == 0):
            try:
                held = service(campaign_id=campaign_id)
            except ValueError as exc:  # changed state meanwhile
                self.stderr.write(f"campaign {campaign_id}: {exc}")
                continue
            self.stdout.write(f"campaign {campaign_id} {verb}: {held} unsent message(s) held")
        if not ids:
            self.stdout.write("no live campaign")
