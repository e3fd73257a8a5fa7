from django.contrib import admin

from core.models import EventCursor, UserEvent


@admin.register(UserEvent)
class UserEventAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "seq", "name", "created_at")
    list_filter = ("name",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(EventCursor)
class EventCursorAdmin(admin.ModelAdmin):
    list_display = ("user", "last_seq")
    raw_id_fields = ("user",)
