"""Request and response shapes of the inbox API. Responses reuse the socket payloads
(inbox.payloads), so a conversation or message looks the same over REST and the websocket."""
from __future__ import annotations

import phonenumbers
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inbox.api.common import id_field
from inbox.models import Contact, Conversation, Message, Template
from inbox.payloads import _iso, conversation_payload, message_payload
from inbox.sending import PURPOSES
from inbox.templating import template_variables
from salesreps.models import ChannelKind, SalesRep
from salesreps.rules import validate_tz


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
                      "example": "09:00:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the contact's own zone: documented as HH:MM[:SS], not as an RFC 3339
    `time` (which would demand a UTC offset these times do not have)."""


# ---- output -------------------------------------------------------------------------------------


class ConversationContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    lead_score = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())


class ConversationChannelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)


class RepBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class ConversationSerializer(serializers.Serializer):
    """conversation_payload (the socket shape) plus the contact, channel and rep it names."""

    id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    contact_name = serializers.CharField()
    channel_id = serializers.IntegerField()
    channel_kind = serializers.ChoiceField(choices=ChannelKind.choices)
    rep_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    unread_count = serializers.IntegerField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    last_message_preview = serializers.CharField()
    last_inbound_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    contact = ConversationContactSerializer()
    channel = ConversationChannelSerializer()
    rep = RepBriefSerializer(allow_null=True)

    def to_representation(self, conversation: Conversation) -> dict:
        contact, channel, rep = conversation.contact, conversation.channel, conversation.rep
        return {
            **conversation_payload(conversation),
            "snoozed_until": _iso(conversation.snoozed_until),
            "created_at": _iso(conversation.created_at),
            "contact": {"id": contact.id, "name": contact.name, "phone": contact.phone, "email": contact.email,
                        "lead_score": contact.lead_score, "tags": list(contact.tags)},
            "channel": {"id": channel.id, "name": channel.name, "kind": channel.kind},
            "rep": {"id": rep.id, "full_name": rep.full_name} if rep is not None else None,
        }


class MessageSerializer(serializers.Serializer):
    """message_payload, the socket shape."""

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    channel_id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=Message.Direction.choices)
    status = serializers.ChoiceField(choices=Message.Status.choices)
    kind = serializers.CharField()
    body = serializers.CharField()
    media_url = serializers.CharField()
    media_type = serializers.CharField()
    media_filename = serializers.CharField(help_text="A document's file name as the sender gave it; empty when unknown.")
    external_id = serializers.CharField()
    defer_code = serializers.CharField(help_text="Why it waits, as a code: outside_shift, daily_capacity, quiet_hours, …")
    defer_reason = serializers.CharField()
    error_code = serializers.CharField()
    error_title = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True, help_text="A shared location's coordinates.")
    longitude = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField(help_text="When it was stored here.")
    sent_at = serializers.DateTimeField(allow_null=True, help_text="When it was sent: the platform's time for an inbound "
                                        "message (a late delivery keeps its real day), the provider's answer for ours; "
                                        "null while ours waits.")
    sender_id = serializers.IntegerField(allow_null=True)

    def to_representation(self, message: Message) -> dict:
        return dict(message_payload(message))


class RepProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=SalesRep.Role.choices)
    team_id = serializers.IntegerField(allow_null=True)
    is_available = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()
    rep = RepProfileSerializer(allow_null=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    body = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField(), help_text="Names used in {braces} in the body.")
    translations = serializers.DictField(child=serializers.CharField(), help_text="Language code → text.")
    whatsapp_name = serializers.CharField(help_text="Approved WhatsApp template name, sent outside the 24-hour window.")
    whatsapp_language = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, template: Template) -> dict:
        try:
            variables = template_variables(template.body)
        except ValueError:  # a malformed body typed in the Django admin: shown, never rendered
            variables = []
        return {"id": template.id, "name": template.name, "body": template.body, "variables": variables,
                "translations": dict(template.translations or {}), "whatsapp_name": template.whatsapp_name,
                "whatsapp_language": template.whatsapp_language, "created_at": _iso(template.created_at)}


class PreviewSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="Empty while variables are missing.")
    missing = serializers.ListField(child=serializers.CharField())


class IdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel_id = serializers.IntegerField()
    channel_name = serializers.CharField()
    channel_kind = serializers.ChoiceField(choices=ChannelKind.choices)
    external_id = serializers.CharField()


class PreferencesSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    allowed_start = LocalTimeField(allow_null=True)
    allowed_end = LocalTimeField(allow_null=True)
    quiet_start = LocalTimeField(allow_null=True)
    quiet_end = LocalTimeField(allow_null=True)
    language = serializers.CharField()
    opt_ins = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices))
    opt_outs = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices))
    opt_out_purposes = serializers.ListField(child=serializers.ChoiceField(choices=PURPOSES),
                                             help_text="Kinds of message refused on every channel: marketing (campaigns) or conversation.")
    escalation_channels = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices),
                                                help_text="Channel kind of each follow-up step, in order.")
    escalation_delay_hours = serializers.IntegerField(allow_null=True)
    opted_out = serializers.BooleanField(help_text="Opted out of everything (STOP, unsubscribe, complaint or by hand).")
    opted_out_at = serializers.DateTimeField(allow_null=True)
    opt_out_reason = serializers.CharField()


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    country = serializers.CharField()
    operator_code = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField()
    owner = serializers.IntegerField(allow_null=True, help_text="The owning rep's id.")
    owner_name = serializers.CharField(help_text="The owning rep's name; empty without an owner.")
    team = serializers.IntegerField(allow_null=True, help_text="The team whose managers see and target the contact.")
    lead_score = serializers.IntegerField()
    converted = serializers.BooleanField()
    last_inbound_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    preferences = PreferencesSerializer()
    identities = IdentitySerializer(many=True)

    def to_representation(self, c: Contact) -> dict:
        prefs = c.preferences or {}
        return {
            "id": c.id, "name": c.name, "phone": c.phone, "email": c.email, "country": c.country,
            "operator_code": c.operator_code, "tags": list(c.tags), "source": c.source, "owner": c.owner_id,
            "owner_name": c.owner.full_name if c.owner_id else "",
            "team": c.team_id,
            "lead_score": c.lead_score, "converted": c.converted, "last_inbound_at": _iso(c.last_inbound_at),
            "created_at": _iso(c.created_at),
            "preferences": {
                "timezone": c.timezone, "language": c.language,
                "allowed_start": _time(c.allowed_start), "allowed_end": _time(c.allowed_end),
                "quiet_start": _time(c.quiet_start), "quiet_end": _time(c.quiet_end),
                "opt_ins": list(prefs.get("opt_ins", [])), "opt_outs": list(prefs.get("opt_outs", [])),
                "opt_out_purposes": list(prefs.get("opt_out_purposes", [])),
                "escalation_channels": [e for e in prefs.get("escalation_channels", []) if isinstance(e, str)],
                "escalation_delay_hours": prefs.get("escalation_delay_hours"),
                "opted_out": c.opted_out, "opted_out_at": _iso(c.opted_out_at), "opt_out_reason": c.opt_out_reason,
            },
            # identities are prefetched (with their channel) by the view: no query per contact
            "identities": [
                {"id": i.id, "channel_id": i.channel_id, "channel_name": i.channel.name,
                 "channel_kind": i.channel.kind, "external_id": i.external_id}
                for i in c.identities.all()
            ],
        }


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


class ImportedSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line in the file (the header is line 1; 0: the whole file).")
    field = serializers.CharField()
    error = serializers.CharField()


class ImportRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ImportErrorSerializer(many=True, required=False, help_text="Absent only when the upload itself was unreadable.")


# ---- input --------------------------------------------------------------------------------------


class VariablesField(serializers.DictField):
    """Template variables: name → text (numbers are taken as text), at most 50."""

    child = serializers.CharField(allow_blank=True, max_length=1000)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 50:
            raise serializers.ValidationError("at most 50 variables")
        return value


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, required=False, allow_blank=True, trim_whitespace=False,
                                     style={"input_type": "password"})


class ConversationFiltersSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    channel = id_field(required=False)
    rep = serializers.RegexField(r"^(none|[0-9]{1,18})$", required=False,
                                 error_messages={"invalid": "rep must be a rep id or 'none'"})
    unread = serializers.BooleanField(required=False)
    search = serializers.CharField(required=False, max_length=100)


class AssignSerializer(serializers.Serializer):
    rep_id = id_field(allow_null=True, help_text="The new rep, or null to unassign.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True, help_text="Required when snoozing.")


class ComposeSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, max_length=4096, trim_whitespace=False)
    template_id = id_field(required=False)
    variables = VariablesField(required=False)

    def validate(self, data: dict) -> dict:
        if ("text" in data) == ("template_id" in data):
            raise serializers.ValidationError("send either text or template_id (with variables)")
        if "variables" in data and "template_id" not in data:
            raise serializers.ValidationError({"variables": ["variables go with a template_id"]})
        return data


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, help_text="Words to find (web-search syntax: \"phrase\", or, -not).")


class TemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4096)
    translations = serializers.DictField(child=serializers.CharField(max_length=4096), required=False,
                                         help_text="Language code → text, e.g. {\"fr\": \"Bonjour {name}\"}.")
    whatsapp_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    whatsapp_language = serializers.CharField(max_length=10, required=False)

    def validate_translations(self, value: dict) -> dict:
        for language in value:
            if not 1 <= len(language) <= 10:
                raise serializers.ValidationError(f"{language!r} is not a language code (at most 10 characters)")
        return value


class PreviewRequestSerializer(serializers.Serializer):
    variables = VariablesField(required=False)
    language = serializers.CharField(max_length=10, required=False, allow_blank=True)


class PreferencesInputSerializer(serializers.Serializer):
    timezone = serializers.CharField(max_length=64, required=False)
    allowed_start = LocalTimeField(required=False, allow_null=True)
    allowed_end = LocalTimeField(required=False, allow_null=True)
    quiet_start = LocalTimeField(required=False, allow_null=True)
    quiet_end = LocalTimeField(required=False, allow_null=True)
    language = serializers.CharField(max_length=10, required=False)
    opt_ins = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices), required=False,
                                    max_length=len(ChannelKind.choices))
    opt_outs = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices), required=False,
                                     max_length=len(ChannelKind.choices))
    opt_out_purposes = serializers.ListField(child=serializers.ChoiceField(choices=PURPOSES), required=False,
                                             max_length=len(PURPOSES))
    escalation_channels = serializers.ListField(child=serializers.ChoiceField(choices=ChannelKind.choices), required=False,
                                                max_length=10, help_text="Channel kind of each follow-up step, in order.")
    escalation_delay_hours = serializers.IntegerField(required=False, min_value=1, max_value=24 * 30)
    opted_out = serializers.BooleanField(required=False, help_text="Only managers and admins may set it back to false.")

    def validate_timezone(self, value: str) -> str:
        try:
            return validate_tz(value)
        except ValueError:
            raise serializers.ValidationError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None


class ContactInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                  help_text="Stored in E.164 (+33612345678); without + it is read in `country`.")
    email = serializers.EmailField(required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    operator_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    owner = id_field(required=False, allow_null=True,
                     help_text="On a new contact a rep may name only themselves, a manager the reps of their team; "
                               "only the managers of the contact's team and admins change it.")
    preferences = PreferencesInputSerializer(required=False)

    def validate_country(self, value: str) -> str:
        value = value.upper()
        if value and value not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError(f"{value!r} is not a two-letter ISO 3166 country code")
        return value


class ContactImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, UTF-8, columns name,phone,email,timezone,tags,country; "
                                           "tags separated by semicolons.")


class ContactFiltersSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=100)
    tag = serializers.CharField(required=False, max_length=50)
    owner = id_field(required=False)


class MergeSerializer(serializers.Serializer):
    duplicate = serializers.IntegerField(min_value=1, max_value=2**63 - 1,
                                         help_text="The contact merged into this one (and then deleted).")


class DuplicateGroupSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=["phone", "email"])
    value = serializers.CharField()
    contact_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Oldest first: the one to keep.")


class ContactChannelSerializer(serializers.Serializer):
    channel_id = serializers.IntegerField()
    channel_kind = serializers.ChoiceField(choices=ChannelKind.choices)
    external_id = serializers.CharField(help_text="The person's id on that channel (wa_id, PSID, phone, address).")
    conversation_id = serializers.IntegerField(allow_null=True, help_text="Its latest conversation the caller may see.")
    conversation_status = serializers.CharField(allow_null=True)


class StatusCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    pending = serializers.IntegerField()
    resolved = serializers.IntegerField()
    snoozed = serializers.IntegerField()


class ConversationCountsSerializer(serializers.Serializer):
    unread_conversations = serializers.IntegerField()
    unread_messages = serializers.IntegerField()
    by_status = StatusCountsSerializer()


class ReplyWindowSerializer(serializers.Serializer):
    applies = serializers.BooleanField(help_text="The channel allows free text only within 24 h of the person's last message (WhatsApp).")
    open = serializers.BooleanField(help_text="Free text may be sent now; when false, only a template goes.")
    last_inbound_at = serializers.DateTimeField(allow_null=True, help_text="The person's last message on this channel, "
                                                "in any of their conversations there.")
    closes_at = serializers.DateTimeField(allow_null=True, help_text="When free text stops (null: the person never wrote here).")


class ConversationDetailSerializer(ConversationSerializer):
    contact_channels = ContactChannelSerializer(many=True, help_text="Every channel the same person is known on: "
                                                "one contact timeline at /api/contacts/{contact_id}/timeline/.")
    reply_window = ReplyWindowSerializer(help_text="WhatsApp's 24-hour window for free text, computed by the server.")
