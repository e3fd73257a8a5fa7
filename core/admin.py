from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from core.models import EventCursor, UserEvent
from core.realtime import access_changed


@admin.register(UserEvent)
class UserEventAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "seq", "name", "created_at")
    list_filter = ("name",)
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(EventCursor)
class EventCursorAdmin(admin.ModelAdmin):
    list_display = ("user", "last_seq", "access_floor")
    raw_id_fields = ("user",)


User = get_user_model()
BaseUserAdmin = type(admin.site._registry[User]) if admin.site.is_registered(User) else UserAdmin


class AccessUserAdmin(BaseUserAdmin):
    """Django's user admin; making a user an admin or taking it back is a change of access: their
    sockets reconnect with the new groups and nothing stored under the old access is replayed."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_superuser" in form.changed_data:
            access_changed([obj.pk])


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccessUserAdmin)
