"""Demo data, idempotent: one sandbox channel per platform, a team with a manager and two reps."""
from datetime import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from platforms import get_adapter
from salesreps.models import Channel, ChannelActivity, ChannelKind, SalesRep, SalesRepChannel, SalesRepChannelActivity, Team

DEMO_PASSWORD = "switchboard-demo"
PEOPLE = [
    ("manager", "Maya Manager", SalesRep.Role.MANAGER),
    ("rep1", "Riley Rep", SalesRep.Role.REP),
    ("rep2", "Sam Rep", SalesRep.Role.REP),
]
ROUTING = {"whatsapp": "100200300", "messenger": "200300400", "instagram": "300400500",
           "sms": "+15005550006", "email": "sales@demo.switchboard.local", "service": "demo-service"}


def demo_secrets(kind: str) -> dict[str, str]:
    """Published, dev-only secrets (README "Try it"): the platform's signing secret is
    demo-<kind>-secret and a Meta verify token demo-<kind>-verify."""
    adapter = get_adapter(kind)
    secrets = {name: f"demo-{kind}-secret" for name in adapter.signing_secret_names}
    secrets.update({name: f"demo-{kind}-verify" for name in adapter.handshake_secret_names})
    return secrets


class Command(BaseCommand):
    help = ("Load demo data (safe to run again: nothing is duplicated). It creates logins with a published "
            "password and channels with published secrets, so it runs only with DEBUG=true or --demo-logins.")

    def add_arguments(self, parser):
        parser.add_argument("--demo-logins", action="store_true",
                            help=f"create the demo logins (password {DEMO_PASSWORD!r}) with DEBUG off: a local demo, "
                                 "never a deployment anyone else can reach")

    @transaction.atomic
    def handle(self, *args, **options):
        if not (settings.DEBUG or options["demo_logins"]):
            raise CommandError(
                f"seed_demo creates the logins admin, manager, rep1 and rep2 with the published password "
                f"{DEMO_PASSWORD!r} (and channels with published webhook secrets): it runs only with DEBUG=true "
                "or --demo-logins. For a deployment, create the admin with `manage.py createsuperuser`.")
        User = get_user_model()
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        team, _ = Team.objects.get_or_create(name="Demo team")
        channels = []
        for kind in ChannelKind.values:
            channel, made = Channel.objects.get_or_create(
                name=f"Demo {kind}", defaults={"kind": kind, "routing_key": ROUTING[kind], "team": team,  # its contacts: the team's
                                               "secrets": demo_secrets(kind)},
            )
            missing = {k: v for k, v in demo_secrets(kind).items() if k not in (channel.secrets or {})}
            if missing and channel.kind == kind:  # seeded before every platform's signing secret was set
                channel.secrets = {**channel.secrets, **missing}
                channel.save(update_fields=["secrets"])
            ChannelActivity.objects.get_or_create(channel=channel, name="message")
            channels.append(channel)
        for username, full_name, role in PEOPLE:
            user, made = User.objects.get_or_create(username=username)
            if made:
                user.set_password(DEMO_PASSWORD)
                user.save()
            rep, _ = SalesRep.objects.get_or_create(user=user, defaults={"full_name": full_name, "team": team, "role": role})
            for channel in channels:
                rc, _ = SalesRepChannel.objects.get_or_create(
                    rep=rep, channel=channel,
                    defaults={"sandbox": True, "start_time": time(0, 0), "end_time": time(23, 59), "timezone": "UTC",
                              "max_daily_capacity": 200, "warmup_start": 50, "warmup_step": 25},
                )
                SalesRepChannelActivity.objects.get_or_create(rep_channel=rc, activity=channel.activities.get(name="message"))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}): admin (admin console), manager, rep1, rep2")
