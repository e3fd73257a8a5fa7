"""The Celery app; tasks live in each app's tasks.py and take ids."""
import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "dispatch-due": {"task": "inbox.tasks.dispatch_due", "schedule": 5.0},
    "sweep-webhooks": {"task": "webhooks.tasks.sweep", "schedule": 30.0},
    "wake-snoozed": {"task": "inbox.tasks.wake_snoozed", "schedule": 60.0},
    "reconcile-expired": {"task": "inbox.tasks.reconcile_expired", "schedule": 60.0},
    "prune-events": {"task": "core.tasks.prune_events", "schedule": 3600.0},
    "relay-events": {"task": "core.tasks.relay_events", "schedule": 2.0},
    "campaigns-daily-stats": {"task": "campaigns.tasks.daily_stats_email", "schedule": crontab(hour=7, minute=0)},
    "campaigns-recycle-slots": {"task": "campaigns.tasks.recycle_slots", "schedule": 60.0},
    "campaigns-rescore-pending": {"task": "campaigns.tasks.rescore_pending", "schedule": 30.0},
    "campaigns-plan-followups": {"task": "campaigns.tasks.plan_followups", "schedule": 60.0},
    "campaigns-publish-progress": {"task": "campaigns.tasks.publish_progress", "schedule": 30.0},
}
