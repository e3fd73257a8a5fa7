"""The project's Celery app plus a no-op task, so one worker serves the baseline and the app's tasks."""
from config.celery import app

_counter = None


@app.task(name="bench.noop", ignore_result=True)
def noop(key: str) -> None:
    """Does nothing but count itself (one Redis INCR), so the harness knows when all have run."""
    global _counter
    if _counter is None:
        import redis
        from django.conf import settings

        _counter = redis.Redis.from_url(f"{settings.REDIS_URL}/3")
    _counter.incr(key)


__all__ = ["app", "noop"]
