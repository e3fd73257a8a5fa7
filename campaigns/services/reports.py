"""The daily statistics e-mail (Celery beat, 07:00 UTC) to settings.STATS_EMAIL_TO."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from campaigns.selectors import daily_figures
from core.logs import entity_log

log = entity_log("campaigns")


def stats_email_text(figures: dict) -> tuple[str, str]:
    """(subject, body) of the daily e-mail."""
    since, until = figures["since"], figures["until"]
    rate = figures["delivery_rate"]
    busiest = figures["busiest_hour"]
    lines = [
        f"Switchboard campaigns, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC",
        "",
        f"Campaigns created: {figures['campaigns_created']}",
        *(f"  - {name}" for name in figures["campaign_names"]),
        f"Messages sent: {figures['messages_sent']}",
        f"Delivered: {figures['delivered']}",
        f"Delivery rate: {rate:.1%}" if rate is not None else "Delivery rate: n/a (nothing sent)",
        (f"Busiest hour: {busiest:02d}:00-{(busiest + 1) % 24:02d}:00 UTC ({figures['busiest_hour_sent']} sent)"
         if busiest is not None else "Busiest hour: n/a (nothing sent)"),
    ]
    return f"Switchboard daily campaign statistics {until:%Y-%m-%d}", "\n".join(lines) + "\n"


def stats_email_send(*, now: datetime | None = None) -> dict | None:
    """Send the past day's figures; None when STATS_EMAIL_TO is empty (nothing to send to)."""
    recipients = list(settings.STATS_EMAIL_TO)
    if not recipients:
        log.warning("daily statistics not sent: STATS_EMAIL_TO is empty")
        return None
    until = now or timezone.now()
    figures = daily_figures(since=until - timedelta(days=1), until=until)
    subject, body = stats_email_text(figures)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    log.info("daily statistics sent", to=",".join(recipients), sent=figures["messages_sent"])
    return figures
