"""Sales-rep write path, by concern: availability, the capacity ledger, channels, rep-channels, shifts, schedules."""
from salesreps.services.availability import rep_presence_changed, rep_set_availability
from salesreps.services.channels import SECRET_KEYS, channel_create, channel_name_taken, channel_update, secrets_merged
from salesreps.services.ledger import (
    CapacityRefused,
    Performed,
    ShiftIssue,
    activities_record_unchecked,
    activity_check,
    activity_record,
    activity_record_unchecked,
    allowance_for,
    allowance_store,
    allowances_store,
    records_release,
    shift_error_record,
    shift_errors_record,
    shifts_materialize,
)
from salesreps.services.rep_channels import rep_channel_create, rep_channel_update
from salesreps.services.reps import rep_save, rep_set_role, reps_delete, teams_delete
from salesreps.services.schedules import (
    rep_schedule_set,
    schedule_time_off_check,
    schedule_timezone_check,
    schedule_week_check,
)
from salesreps.services.shifts import shift_create, shift_delete, shift_update

__all__ = [
    "SECRET_KEYS", "CapacityRefused", "Performed", "ShiftIssue", "records_release", "shift_errors_record",
    "shifts_materialize", "activities_record_unchecked", "activity_check", "activity_record",
    "activity_record_unchecked", "allowance_for", "allowances_store",
    "allowance_store", "channel_create", "channel_name_taken", "channel_update", "rep_channel_create", "rep_channel_update",
    "rep_presence_changed", "rep_save", "rep_set_availability", "rep_set_role", "reps_delete", "secrets_merged", "shift_create", "shift_delete",
    "shift_error_record", "shift_update", "teams_delete",
    "rep_schedule_set", "schedule_time_off_check", "schedule_timezone_check", "schedule_week_check",
]
