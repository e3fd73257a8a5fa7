"""`manage.py demo_inbound whatsapp "Hello"`: a contact writes in. Builds the platform's own payload for
the demo channel, signs it with the channel's secret as the platform would, posts it to the running
app's webhook endpoint and says what happened."""
import os
import time

from django.core.management.base import BaseCommand, CommandError

from inbox.models import Message
from platforms import ADAPTERS
from salesreps.models import Channel
from webhooks import samples
from webhooks.models import WebhookEvent


class Command(BaseCommand):
    help = ("Post a signed inbound message to the running app's webhook endpoint, as the platform would, "
            "from a demo contact to the platform's demo channel (seed_demo), or to --channel.")

    def add_arguments(self, parser):
        parser.add_argument("platform", help=f"one of: {', '.join(ADAPTERS)}")
        parser.add_argument("text", help="what the contact writes")
        parser.add_argument("--channel", default="", help='the channel\'s name (default: "Demo <platform>")')
        parser.add_argument("--url", default="", help="the running app (default: http://$HOST:$PORT, i.e. http://127.0.0.1:8000)")
        parser.add_argument("--name", default="", help="the contact's name (default: Demo Contact)")
        parser.add_argument("--wait", type=float, default=5.0,
                            help="seconds to wait for the event to be processed (0: do not wait)")

    def handle(self, *args, platform, text, channel, url, name, wait, **options):
        if platform not in ADAPTERS:
            raise CommandError(f"unknown platform {platform!r}: use one of {', '.join(ADAPTERS)}")
        channel_name = channel or f"Demo {platform}"
        target = Channel.objects.filter(name__iexact=channel_name).first()
        if target is None:
            hint = "run `manage.py seed_demo` (make run does) or name one with --channel" if not channel else "check its name"
            raise CommandError(f"there is no channel named {channel_name!r}: {hint}")
        if target.kind != platform:
            raise CommandError(f"channel {target.name!r} is a {target.kind} channel, not {platform}")
        base = (url or f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}").rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise CommandError(f"--url {base!r} must start with http:// or https://")
        host = base.split("://", 1)[1].split("/", 1)[0]
        try:
            sample = samples.sample_build(channel=target, text=text, host=host,
                                          who=samples.Contact(name=name) if name else None)
        except samples.SampleError as exc:
            raise CommandError(str(exc)) from None
        delivery = samples.sample_post(sample=sample, base_url=base, host=host)
        if delivery.status_code is None:
            raise CommandError(f"{delivery.detail}\nIs the app running? Start it with `make run` (or pass --url).")
        if not delivery.ok:
            raise CommandError(f"POST {delivery.url}: {delivery.detail}")
        self.stdout.write(f"POST {delivery.url} → {delivery.status_code}: {delivery.detail}")
        if delivery.event_id and wait > 0:
            self._report(delivery.event_id, wait, channel=target, external_id=samples.sample_external_id(sample))

    def _report(self, event_id: int, wait: float, *, channel: Channel, external_id: str) -> None:
        deadline = time.monotonic() + wait
        event = WebhookEvent.objects.filter(pk=event_id).first()
        while event is not None and event.state == "received" and time.monotonic() < deadline:
            time.sleep(0.2)
            event = WebhookEvent.objects.filter(pk=event_id).first()
        if event is None:
            self.stdout.write(f"webhook event {event_id} is not in this database: is --url another app's?")
        elif event.state == "received":
            self.stdout.write(f"webhook event {event_id} is stored and waits to be processed (is the Celery worker running?)")
        elif event.state == "processed":
            self.stdout.write(self.style.SUCCESS(f"webhook event {event_id} processed: {self._where(channel, external_id)}"))
        else:
            self.stdout.write(self.style.WARNING(f"webhook event {event_id} {event.state}" + (f": {event.error}" if event.error else "")))

    def _where(self, channel: Channel, external_id: str) -> str:
        """Whose inbox the message is in: assignment picked the rep (the contact's owner, else the
        available one with the fewest open conversations), or nobody was available."""
        message = (Message.objects.select_related("conversation__rep__user")
                   .filter(channel=channel, direction="in", external_id=external_id).first())
        if message is None:
            return "no message was stored from it (see the channel's event list on its operator page)"
        rep = message.conversation.rep
        if rep is None:
            return (f"the message is in conversation {message.conversation_id}, unassigned: no rep was available "
                    "(managers see it on the dashboard)")
        return f"the message is in the inbox of {rep.full_name} (sign in as {rep.user.username}), conversation {message.conversation_id}"
