"""What every platform adapter is (`Adapter`) and the normalized shapes it turns inbound payloads into.

Adapters (`platforms/<name>.py`) know one platform in both directions; the webhook
pipeline only ever sees these dataclasses, never a platform's own JSON.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx


class PayloadError(ValueError):
    """The body is not a payload of this platform; the message names what is wrong."""


@dataclass(frozen=True)
class RawRequest:
    """What the endpoint received, before anything is parsed."""

    body: bytes
    headers: Mapping[str, str]  # lower-cased header names
    url: str  # full URL as the platform called it (scheme, host, port, path, query)
    content_type: str = ""
    # When the endpoint received it. Payloads without their own time (Twilio) use it, so a
    # reprocessed event keeps its original time; None means "now".
    received_at: datetime | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel_key: str  # what routes to our Channel: phone_number_id, page id, To, address, name
    external_id: str  # the platform's id of the message
    contact_id: str  # the platform's id of the contact (wa_id, PSID, IGSID, E.164 phone, e-mail)
    timestamp: datetime
    kind: str = "text"  # text | media | location | reaction | unsupported
    text: str = ""
    contact_name: str = ""
    contact_phone: str = ""  # E.164 where the platform gives a phone number
    media_url: str = ""
    media_type: str = ""  # image | audio | video | document | sticker | file
    latitude: float | None = None
    longitude: float | None = None
    reply_to: str = ""  # external id of the message this one answers
    reaction_to: str = ""  # external id of the message reacted to
    is_echo: bool = False  # sent by the business from elsewhere: stored as outbound
    raw_type: str = ""
    mime_type: str = ""  # the media's MIME type where the platform gives it
    filename: str = ""  # a document's file name as the sender gave it (WhatsApp's document.filename)
    subject: str = ""  # e-mail only


@dataclass(frozen=True)
class StatusUpdate:
    channel_key: str
    external_id: str  # the platform's id of OUR outbound message
    status: str  # sent | delivered | read | failed
    timestamp: datetime
    contact_id: str = ""
    error_code: str = ""
    error_title: str = ""
    # What we sent along that the platform echoes on its statuses (WhatsApp's
    # biz_opaque_callback_data, Twilio's StatusCallback parameter, our key in an e-mail's
    # Message-ID, a service's idempotency_key): matches a send whose answer never arrived.
    correlation_id: str = ""


@dataclass(frozen=True)
class Watermark:
    """Every outbound message to contact_id sent at or before `watermark` is `status`."""

    channel_key: str
    contact_id: str
    status: str  # delivered | read
    watermark: datetime


@dataclass(frozen=True)
class OptOut:
    channel_key: str
    contact_id: str
    reason: str  # keyword | unsubscribe | complaint
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Ignored:
    """A well-formed event we do not act on; stored and answered 200 so platforms stop retrying."""

    event_type: str
    detail: str = ""


NormalizedEvent = InboundMessage | StatusUpdate | Watermark | OptOut | Ignored


@dataclass(frozen=True)
class SendResult:
    ok: bool
    external_id: str = ""
    retryable: bool = False  # 5xx, 429, timeouts
    # The provider may have accepted it: a timeout or reset after the request was written, a 5xx
    # without a body, an adapter error. Resent only where the provider deduplicates on our key.
    ambiguous: bool = False
    status_code: int = 0
    error_code: str = ""
    error_title: str = ""
    response: dict = field(default_factory=dict)


# Outbound idempotency keys are KEY_PREFIX + the message id (inbox/services/delivery.py), echoed
# back as correlation ids; an e-mail's Message-ID, which cannot carry an opaque value, is ours by it.
KEY_PREFIX = "switchboard-msg-"

STOP_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt-out"})


def is_opt_out_text(text: str) -> bool:
    """STOP-style keywords, matched on the whole trimmed message, case-insensitively."""
    return text.strip().strip(".!").lower() in STOP_KEYWORDS


class Handshake(Protocol):
    def __call__(self, *, params: Mapping[str, str], verify_tokens: list[str]) -> str | None:
        """The challenge to answer a GET subscription check with, or None to refuse it."""


class Adapter(Protocol):
    """One platform, both directions: all the rest of the code may ask of it.

    `platforms.get_adapter(kind)` returns one; a module or an instance, whichever reads better.
    """

    name: str  # the Channel kind and the <platform> of /webhooks/<platform>/
    default_base_url: str  # the provider API when the channel configures none; "" where there is none
    idempotent: bool  # the provider deduplicates on our idempotency key, so an ambiguous send may be retried
    secret_names: tuple[str, ...]  # every Channel.secrets key the adapter reads
    signing_secret_names: tuple[str, ...]  # the secrets that may have signed a webhook
    handshake_secret_names: tuple[str, ...]  # the secrets a handshake accepts; () without one
    handshake: Handshake | None  # the GET subscription check, where the platform has one

    def template_for(self, *, name: str, language: str, body: str, variables: dict, header: str = "",
                     header_format: str = "text", subject: str = "", html_body: str = "") -> dict | None:
        """The provider template `send` takes for one of ours (its platform `name`, `language`, its
        `body` with {placeholders} and the message's `variables`; WhatsApp's declared `header` of
        `header_format` text | image | video | document; an e-mail's `subject` and `html_body`);
        None to send the rendered text. Adapters ignore the fields their platform has no use for."""

    def verify(self, *, request: RawRequest, secrets: list[str], now: float) -> bool:
        """Whether one of `secrets` signed the request; `now` (unix s) bounds replayed timestamps."""

    def dedup_key(self, *, request: RawRequest) -> str:
        """Equal for redeliveries of one event, different for different events; from signed content
        where the platform signs any (the endpoint scopes it to the channel and hashes it)."""

    def replay_token(self, *, request: RawRequest) -> str:
        """The single-use value of a signature that does not cover the body (Mailgun's token), which
        the endpoint accepts once; "" where the signature covers the body."""

    def parse(self, *, request: RawRequest) -> list[NormalizedEvent]:
        """The request's events; PayloadError (nothing else) for any body that is not this platform's."""

    def channel_candidates(self, *, request: RawRequest) -> list[str]:
        """Routing keys to try, in order, before the events' own channel_key; [] to use those."""

    def secret_channel_name(self, *, request: RawRequest) -> str | None:
        """The name of the one channel whose secrets may sign the request; None for any channel."""

    def address_of(self, *, contact_id: str) -> str:
        """The person's address behind a contact id of this platform (E.164 phone, lower-cased
        e-mail), by which one contact is found across channels; "" for a page-scoped id."""

    def contact_id_for(self, *, address: str) -> str:
        """The contact id this platform's webhooks will use for the person we send to at
        `address` (a wa_id has no "+"); "" when it cannot be derived from an address."""

    def send(
        self,
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
        """Send once; provider trouble is a SendResult (retryable or not), never an exception."""
