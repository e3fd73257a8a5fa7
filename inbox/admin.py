"""Admin console for the inbox: searchable, filterable, read-mostly where history matters.
Conversations and messages save and delete through inbox services, so reps see admin changes live."""
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin

from inbox.models import ActivityRequest, Contact, ContactIdentity, Conversation, DeliveryAttempt, Message, MessageEvent, Template
from inbox.services import admin as admin_services


@dataclass(frozen=True)
class ServiceSaves:
    """The inbox service functions an admin page saves and deletes through; `noun` names the object."""

    create: Callable
    update: Callable
    delete: Callable
    noun: str


class ThroughServices:
    """Admin saves and deletes go through inbox services, which emit what the sockets need."""

    saves: ServiceSaves

    def save_model(self, request, obj, form, change):
        noun = self.saves.noun
        if change:
            self.saves.update(**{noun: obj}, changed=form.changed_data, by_user=request.user)
        else:
            self.saves.create(**{noun: obj}, by_user=request.user)

    def delete_model(self, request, obj):
        self.saves.delete(**{f"{self.saves.noun}_ids": [obj.pk]}, by_user=request.user)

    def delete_queryset(self, request, queryset):
        self.saves.delete(**{f"{self.saves.noun}_ids": list(queryset.values_list("pk", flat=True))}, by_user=request.user)


class IdentityInline(admin.TabularInline):
    model = ContactIdentity
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "phone", "email", "timezone", "owner", "lead_score", "opted_out")
    list_filter = ("opted_out", "converted", "country", "timezone")
    search_fields = ("name", "phone", "email", "identities__external_id")
    raw_id_fields = ("owner",)
    inlines = [IdentityInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("direction", "status", "body", "created_at", "defer_reason", "error_title")
    readonly_fields = fields
    show_change_link = True
    ordering = ("-created_at",)
    max_num = 0


@admin.register(Conversation)
class ConversationAdmin(ThroughServices, admin.ModelAdmin):
    list_display = ("id", "contact", "channel", "rep", "status", "unread_count", "last_message_at")
    list_filter = ("status", "channel", "rep__team")
    search_fields = ("contact__name", "contact__phone", "contact__email")
    raw_id_fields = ("contact", "rep")
    inlines = [MessageInline]

    saves = ServiceSaves(admin_services.conversation_admin_create, admin_services.conversation_admin_update,
                         admin_services.conversations_admin_delete, "conversation")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    readonly_fields = ("started_at", "sandbox", "ok", "retryable", "status_code", "external_id", "error_code", "error_title")
    exclude = ("response",)
    max_num = 0


class EventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    readonly_fields = ("status", "at", "detail")
    max_num = 0


@admin.register(Message)
class MessageAdmin(ThroughServices, admin.ModelAdmin):
    list_display = ("id", "conversation", "direction", "status", "channel", "created_at", "defer_code", "needs_reconciliation")
    list_filter = ("direction", "status", "channel", "needs_reconciliation", "defer_code")
    search_fields = ("body", "external_id")
    raw_id_fields = ("conversation", "sender", "rep_channel", "template")
    readonly_fields = ("search",)
    inlines = [AttemptInline, EventInline]

    saves = ServiceSaves(admin_services.message_admin_create, admin_services.message_admin_update,
                         admin_services.messages_admin_delete, "message")


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "whatsapp_name", "created_at")
    search_fields = ("name", "body", "whatsapp_name")


@admin.register(ActivityRequest)
class ActivityRequestAdmin(admin.ModelAdmin):
    """Read-only: activities are requested on the API and moved by the dispatcher alone."""

    list_display = ["id", "activity", "rep_channel", "status", "defer_code", "error_code", "due_at", "performed_at"]
    list_filter = ["status", "activity", "defer_code"]
    search_fields = ["target", "rep_channel__rep__full_name", "rep_channel__channel__name"]
    list_select_related = ["rep_channel__rep", "rep_channel__channel"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
