from django.contrib import admin

from webhooks.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Raw events are evidence: shown, never edited. Bodies are shown as text, signatures omitted."""

    list_display = ("id", "platform", "channel", "state", "attempts", "received_at", "processed_at")
    list_filter = ("platform", "state", "channel")
    search_fields = ("dedup_key", "error")
    readonly_fields = ("platform", "channel", "dedup_key", "body_text", "url", "received_at", "state", "processed_at", "attempts", "error")
    exclude = ("body", "headers")

    @admin.display(description="body")
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", "replace")[:20000]

    def has_add_permission(self, request):
        return False
