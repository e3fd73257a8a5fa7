"""Dated shifts of a rep: unique per (rep, date, number), with hours or a day off."""
from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import save_unique
from core.logs import entity_log
from salesreps.models import SalesRep, WorkingShift

log = entity_log("reps")


def _shift_save(shift: WorkingShift) -> None:
    taken = ValidationError({"number": f"{shift.rep} already has shift {shift.number} on {shift.date}"})
    if (shift.start_time is None) != (shift.end_time is None):
        raise ValidationError({"end_time" if shift.end_time is None else "start_time": "set both start and end time, or neither"})
    if shift.start_time is not None and shift.start_time == shift.end_time:
        raise ValidationError({"end_time": "end time equals start time: the window would be empty"})
    if shift.is_day_off and shift.start_time is not None:
        raise ValidationError({"is_day_off": "a day off has no working hours"})
    shift.full_clean(validate_constraints=False)
    if WorkingShift.objects.filter(rep_id=shift.rep_id, date=shift.date, number=shift.number).exclude(pk=shift.pk).exists():
        raise taken
    save_unique(shift, constraint="shift_unique_per_rep_date_number", taken=taken)


@transaction.atomic
def shift_create(*, rep: SalesRep, date: date, number: int = 1, **fields) -> WorkingShift:
    """One of the rep's shifts on a date; end before start crosses midnight; is_day_off marks a day off."""
    shift = WorkingShift(rep=rep, date=date, number=number, **fields)
    _shift_save(shift)
    log.info("shift created", rep=rep.id, shift=shift.id, date=date, number=number)
    return shift


@transaction.atomic
def shift_delete(*, shift: WorkingShift) -> str:
    """Take a date override off: the rep's week applies on that date again. A shift the day's
    ledger rows or shift errors hang on stays as a materialized shift (planned false: it no longer
    overrides the week), so nothing recorded is lost; otherwise the row goes. Returns what was done."""
    shift = WorkingShift.objects.select_for_update(of=("self",)).get(pk=shift.pk)
    if shift.records.exists() or shift.errors.exists():
        shift.planned = False
        shift.save(update_fields=["planned"])
        log.info("shift override withdrawn", rep=shift.rep_id, shift=shift.id, kept_for="ledger")
        return "unplanned"
    shift.delete()
    log.info("shift deleted", rep=shift.rep_id, date=shift.date, number=shift.number)
    return "deleted"


@transaction.atomic
def shift_update(*, shift: WorkingShift, **fields) -> WorkingShift:
    shift = WorkingShift.objects.select_for_update(of=("self",)).select_related("rep").get(pk=shift.pk)
    for name, value in fields.items():
        setattr(shift, name, value)
    shift.planned = True  # edited for its date: from now on it overrides the schedule that day
    _shift_save(shift)
    log.info("shift updated", rep=shift.rep_id, shift=shift.id)
    return shift
