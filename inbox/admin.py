"""Admin console for the inbox: searchable, filterable, read-mostly where history matters."""
from django.contrib import admin

from inbox.models import Contact, ContactIdentity, Conversation, DeliveryAttempt, Message, MessageEvent, Template


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
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "contact", "channel", "rep", "status", "unread_count", "last_message_at")
    list_filter = ("status", "channel", "rep__team")
    search_fields = ("contact__name", "contact__phone", "contact__email")
    raw_id_fields = ("contact", "rep")
    inlines = [MessageInline]


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
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "direction", "status", "channel", "created_at", "defer_code", "needs_reconciliation")
    list_filter = ("direction", "status", "channel", "needs_reconciliation", "defer_code")
    search_fields = ("body", "external_id")
    raw_id_fields = ("conversation", "sender", "rep_channel", "template")
    readonly_fields = ("search",)
    inlines = [AttemptInline, EventInline]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "whatsapp_name", "created_at")
    search_fields = ("name", "body", "whatsapp_name")
