"""Attachments through the app: the browser loads a message's media from /api/messages/<id>/media/,
never from the platform's URL (which may need the channel's token, expires, and would tell a third
party who looks). Reads only: nothing is stored."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from core.errors import AccessDenied
from inbox.models import Message
from inbox.selectors import messages_for
from platforms import get_adapter
from platforms.meta import GRAPH_VERSION

MAX_BYTES = 25 * 1024 * 1024  # WhatsApp's largest media (video, documents up to 100 MB are links, not inline)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Shown inline by the browser; anything else is downloaded as an opaque file.
INLINE_TYPES = ("image/", "audio/", "video/", "application/pdf")
PASSIVE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # never SVG inline: it may carry script


class MediaUnavailable(Exception):
    """The platform did not hand the file over (expired, refused, too large, unreachable)."""


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str
    inline: bool
    filename: str


def _base_url(message: Message) -> str:
    channel, adapter = message.channel, get_adapter(message.channel.kind)
    return channel.config.get("api_base_url") or channel.internal_url or (adapter.default_base_url if adapter else "")


def _source(message: Message, client: httpx.Client) -> tuple[str, dict, tuple[str, str] | None]:
    """The URL the file is downloaded from, with the headers and basic auth it needs."""
    channel, url = message.channel, message.media_url
    if url.startswith("whatsapp-media:"):
        # Cloud API: the media id is exchanged for a short-lived URL, downloaded with the same token.
        headers = {"Authorization": f"Bearer {channel.secrets.get('access_token', '')}"}
        media_id = url.removeprefix("whatsapp-media:")
        try:
            answer = client.get(f"{_base_url(message).rstrip('/')}/{GRAPH_VERSION}/{media_id}", headers=headers)
            answer.raise_for_status()
            url = answer.json()["url"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise MediaUnavailable(f"WhatsApp did not give the media's address: {exc}") from None
        return url, headers, None
    if channel.kind == "sms" and channel.config.get("account_sid"):
        return url, {}, (channel.config["account_sid"], channel.secrets.get("auth_token", ""))  # Twilio's HTTP auth
    return url, {}, None


def media_fetch(*, user, message_id: int, client: httpx.Client | None = None) -> Media:
    """The attachment of a message in the user's scope (AccessDenied otherwise, or without one)."""
    message = messages_for(user).select_related("channel").filter(pk=message_id).exclude(media_url="").first()
    if message is None:
        raise AccessDenied(f"message {message_id} has no attachment you can see")
    own = client is None
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    try:
        url, headers, auth = _source(message, client)
        if urlsplit(url).scheme not in ("http", "https"):
            raise MediaUnavailable("the attachment's address is not a web address")
        chunks, size = [], 0
        with client.stream("GET", url, headers=headers, auth=auth) as response:
            if response.status_code != 200:
                raise MediaUnavailable(f"the platform answered {response.status_code}")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise MediaUnavailable(f"the attachment is larger than {MAX_BYTES // (1024 * 1024)} MB")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise MediaUnavailable(f"the platform could not be reached: {exc.__class__.__name__}") from None
    finally:
        if own:
            client.close()
    inline = content_type.startswith(INLINE_TYPES) and (not content_type.startswith("image/") or content_type in PASSIVE_IMAGE_TYPES)
    name = message.media_filename or urlsplit(url).path.rsplit("/", 1)[-1] or f"attachment-{message.id}"
    return Media(content=b"".join(chunks), content_type=content_type if inline else "application/octet-stream",
                 inline=inline, filename=name[:100])
