"""Dates around each 2026 clock change of the given zones: hypothesis leans on them."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def transition_days(zones) -> list[date]:
    days = set()
    for name in zones:
        zone = ZoneInfo(name)
        day = date(2026, 1, 1)
        while day.year == 2026:
            noon = [datetime.combine(day + timedelta(days=k), time(12), zone) for k in (0, 1)]
            if noon[0].utcoffset() != noon[1].utcoffset():
                days.update(day + timedelta(days=k) for k in range(-1, 3))
            day += timedelta(days=1)
    return sorted(days)
