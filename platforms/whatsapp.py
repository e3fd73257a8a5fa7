"""WhatsApp Cloud API: `messages` webhooks in, Graph `/{phone_number_id}/messages` out.

channel_key is `value.metadata.phone_number_id`; contact_id is the wa_id as WhatsApp gives
it (what replies go to) and contact_phone its E.164 form. Message types we cannot show
become kind "unsupported" rather than Ignored: the contact did write, which also opens the
24-hour window. Unknown change fields and status values become Ignored.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx

from . import meta
from .base import (
    Ignored,
    InboundMessage,
    NormalizedEvent,
    PayloadError,
    RawRequest,
    SendResult,
    StatusUpdate,
)
from .common import (
    any_channel,
    dig,
    e164,
    each_dict,
    filled,
    get_dict,
    get_list,
    get_number,
    get_str,
    load_json_object,
    no_replay_token,
    own_channel_keys,
    placeholders,
    unix_time,
    with_keyword_opt_out,
)

name = "whatsapp"
default_base_url = meta.GRAPH_BASE_URL
idempotent = False  # the Cloud API takes no idempotency key (ours rides along for tracing only)
secret_names = meta.SECRET_NAMES
signing_secret_names = meta.SIGNING_SECRET_NAMES
handshake_secret_names = meta.HANDSHAKE_SECRET_NAMES

verify = meta.verify
dedup_key = meta.dedup_key
handshake = meta.handshake


def address_of(*, contact_id: str) -> str:
    return e164(contact_id)  # the wa_id: international digits without "+"


def contact_id_for(*, address: str) -> str:
    phone = e164(address)
    return phone.lstrip("+") if phone else ""
channel_candidates = own_channel_keys  # value.metadata.phone_number_id names the channel
secret_channel_name = any_channel
replay_token = no_replay_token  # the signature covers the body

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUSES = ("sent", "delivered", "read", "failed")


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    data = load_json_object(request.body)
    if data.get("object") != "whatsapp_business_account":
        raise PayloadError("object must be 'whatsapp_business_account'")
    events: list[NormalizedEvent] = []
    for where, entry in each_dict(get_list(data, "entry"), "entry"):
        for change_where, change in each_dict(get_list(entry, "changes", where), f"{where}.changes"):
            field = get_str(change, "field", change_where)
            if field != "messages":  # template status, account and quality updates, …
                events.append(Ignored(event_type=field or "unknown"))
                continue
            events += _parse_value(get_dict(change, "value", change_where, required=True), f"{change_where}.value")
    return events


def _parse_value(value: dict, where: str) -> list[NormalizedEvent]:
    metadata = get_dict(value, "metadata", where, required=True)
    channel_key = get_str(metadata, "phone_number_id", f"{where}.metadata", required=True)
    names = {
        get_str(contact, "wa_id", contact_where): dig(contact, "profile", "name")
        for contact_where, contact in each_dict(get_list(value, "contacts", where), f"{where}.contacts")
    }
    events: list[NormalizedEvent] = []
    for message_where, message in each_dict(get_list(value, "messages", where), f"{where}.messages"):
        events += _message(message, channel_key, names, message_where)
    for status_where, status in each_dict(get_list(value, "statuses", where), f"{where}.statuses"):
        events.append(_status(status, channel_key, status_where))
    for _, error in each_dict(get_list(value, "errors", where), f"{where}.errors"):
        events.append(Ignored(event_type="error", detail=f"{dig(error, 'code')} {dig(error, 'title')}".strip()))
    return events


def _message(message: dict, channel_key: str, names: dict[str, str], where: str) -> list[NormalizedEvent]:
    kind = get_str(message, "type", where, required=True)
    if kind == "system":  # number changes and the like: no message from the contact
        return [Ignored(event_type="system", detail=dig(message, "system", "body"))]
    sender = get_str(message, "from", where, required=True)
    handler = _CONTENT.get(kind)
    if handler:
        content = handler(get_dict(message, kind, where, required=True), f"{where}.{kind}", kind)
    else:  # "unsupported", contacts, order, and types newer than this code
        content = {"kind": "unsupported"}
    inbound = InboundMessage(
        channel_key=channel_key,
        external_id=get_str(message, "id", where, required=True),
        contact_id=sender,
        timestamp=unix_time(message.get("timestamp"), f"{where}.timestamp"),
        contact_name=names.get(sender, ""),
        contact_phone=e164(sender),
        reply_to=dig(message, "context", "id"),
        raw_type=kind,
        **content,
    )
    return with_keyword_opt_out(inbound)


def _text(body: dict, where: str, kind: str) -> dict:
    return {"kind": "text", "text": get_str(body, "body", where)}


def _media(body: dict, where: str, kind: str) -> dict:
    return {
        "kind": "media",
        "text": get_str(body, "caption", where),
        # Cloud API media ids must be exchanged for a short-lived URL with the access token;
        # whoever downloads resolves this pseudo-URL.
        "media_url": f"whatsapp-media:{get_str(body, 'id', where, required=True)}",
        "media_type": kind,
        "mime_type": get_str(body, "mime_type", where),
        "filename": get_str(body, "filename", where),  # documents only: the name the sender's phone shows
    }


def _location(body: dict, where: str, kind: str) -> dict:
    label = "\n".join(part for part in (get_str(body, "name", where), get_str(body, "address", where)) if part)
    return {
        "kind": "location",
        "text": label,
        "latitude": get_number(body, "latitude", where),
        "longitude": get_number(body, "longitude", where),
    }


def _reaction(body: dict, where: str, kind: str) -> dict:
    # A removed reaction arrives without an emoji: text "" means "reaction withdrawn".
    return {
        "kind": "reaction",
        "text": get_str(body, "emoji", where),
        "reaction_to": get_str(body, "message_id", where, required=True),
    }


def _interactive(body: dict, where: str, kind: str) -> dict:
    reply_type = get_str(body, "type", where)  # button_reply | list_reply | nfm_reply
    reply = get_dict(body, reply_type, where) if reply_type else {}
    reply_where = f"{where}.{reply_type}"
    return {"kind": "text", "text": get_str(reply, "title", reply_where) or get_str(reply, "body", reply_where)}


def _button(body: dict, where: str, kind: str) -> dict:  # quick-reply button of a template
    return {"kind": "text", "text": get_str(body, "text", where) or get_str(body, "payload", where)}


_CONTENT: dict[str, Callable[[dict, str, str], dict]] = {
    "text": _text,
    **{media: _media for media in MEDIA_TYPES},
    "location": _location,
    "reaction": _reaction,
    "interactive": _interactive,
    "button": _button,
}


def _status(status: dict, channel_key: str, where: str) -> NormalizedEvent:
    value = get_str(status, "status", where, required=True)
    external_id = get_str(status, "id", where, required=True)
    if value not in STATUSES:  # e.g. "deleted", "warning"
        return Ignored(event_type=f"status:{value}", detail=external_id)
    errors = get_list(status, "errors", where)
    return StatusUpdate(
        channel_key=channel_key,
        external_id=external_id,
        status=value,
        timestamp=unix_time(status.get("timestamp"), f"{where}.timestamp"),
        contact_id=get_str(status, "recipient_id", where),
        error_code=dig(errors, 0, "code"),
        error_title=dig(errors, 0, "title") or dig(errors, 0, "message"),
        correlation_id=str(status.get("biz_opaque_callback_data") or "")[:200],
    )


HEADER_MEDIA = ("image", "video", "document")
URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def _header_component(header: str, header_format: str, variables: dict) -> dict | None:
    """The send-time header of an approved template: a text header's parameter (Meta allows one),
    or the link of a media header, which Meta requires on every send."""
    if header_format in HEADER_MEDIA:
        # Only what a URL cannot hold is escaped, so a variable may be a whole link or a part of one.
        link = filled(header, variables, escape=lambda value: quote(value, safe=URL_SAFE))
        return {"type": "header", "parameters": [{"type": header_format, header_format: {"link": link}}]} if link else None
    names = placeholders(header)
    if not names:  # a fixed text header (or none): nothing to fill in
        return None
    return {"type": "header", "parameters": [{"type": "text", "text": str(variables.get(n, ""))} for n in names]}


def template_for(*, name: str, language: str, body: str, variables: dict, header: str = "",
                 header_format: str = "text", **_other: object) -> dict | None:
    """Meta's template object: the header component (when the template declares header parameters)
    before the body component, whose positional parameters ({{1}}, {{2}}…) follow the order our
    placeholders first appear in the body, as the Cloud API documents; nothing to fill, no
    components. Without a WhatsApp name there is no approved template: the text goes out."""
    if not name:
        return None
    components = []
    header_component = _header_component(header, header_format, variables)
    if header_component:
        components.append(header_component)
    names = placeholders(body)
    if names:
        components.append({"type": "body", "parameters": [{"type": "text", "text": str(variables.get(n, ""))} for n in names]})
    return {"name": name, "language": language or "en_US", "components": components}


def send(
    *,
    client: httpx.Client,
    base_url: str,
    config: dict,
    secrets: dict,
    to: str,
    text: str = "",
    template: dict | None = None,
    idempotency_key: str,
) -> SendResult:
    """Text, or a template `{"name", "language": "en_US" | {"code"}, "components": [...]}`.

    The Cloud API has no idempotency key; `biz_opaque_callback_data` carries ours so that it
    comes back on the status webhooks for tracing."""
    payload: dict = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if template is not None:
        language = template.get("language", "en_US")
        payload |= {
            "type": "template",
            "template": {
                "name": template.get("name", ""),
                "language": language if isinstance(language, dict) else {"code": language},
                "components": template.get("components", []),
            },
        }
    else:
        payload |= {"type": "text", "text": {"body": text, "preview_url": False}}
    payload["biz_opaque_callback_data"] = idempotency_key
    return meta.graph_post(
        client,
        f"{base_url.rstrip('/')}/{meta.GRAPH_VERSION}/{config['phone_number_id']}/messages",
        token=secrets.get("access_token", ""),
        payload=payload,
        external_id=lambda body: dig(body, "messages", 0, "id"),
    )
