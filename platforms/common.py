"""Helpers the adapters share: strict reading of untrusted payloads, signatures, times,
phone numbers, and turning a provider's HTTP answer into a SendResult.

Every reader here raises PayloadError (never KeyError/TypeError/...) so that `parse()`
keeps its contract for any byte input.
"""
from __future__ import annotations

import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import string
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import parse_qsl

import httpx
import phonenumbers

from .base import (
    InboundMessage,
    NormalizedEvent,
    OptOut,
    PayloadError,
    RawRequest,
    SendResult,
    is_opt_out_text,
)

# ---------------------------------------------------------------- signatures


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def hmac_hex(secret: str, message: bytes, digest=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def usable(secrets: Iterable[str]) -> list[str]:
    """Drop empty secrets: an HMAC keyed with "" is one anybody can compute."""
    return [secret for secret in secrets if isinstance(secret, str) and secret]


def matches_any(candidates: Iterable[str], given: str) -> bool:
    """Constant-time comparison against every candidate (compare_digest wants bytes for non-ASCII)."""
    given_bytes = given.encode("utf-8", "surrogatepass")
    results = [hmac.compare_digest(c.encode("utf-8", "surrogatepass"), given_bytes) for c in candidates]
    return any(results)


# ---------------------------------------------------------------- reading payloads


def load_json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"body is not valid JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return data


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def get_list(obj: dict, key: str, where: str = "") -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{_path(where, key)} must be a list")
    return value


def get_dict(obj: dict, key: str, where: str = "", *, required: bool = False) -> dict:
    value = obj.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{_path(where, key)} must be an object")
    return value


def get_str(obj: dict, key: str, where: str = "", *, required: bool = False) -> str:
    """A string field; ids that arrive as JSON numbers are accepted as their decimal text."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError(f"{_path(where, key)} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{_path(where, key)} must be a string")
    return str(value)


def get_number(obj: dict, key: str, where: str = "") -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{_path(where, key)} must be a number")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise PayloadError(f"{_path(where, key)} must be a number") from None


def each_dict(items: list, where: str) -> Iterator[tuple[str, dict]]:
    """Yield (path, item) for every item of a list that must hold objects."""
    for index, item in enumerate(items):
        path = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{path} must be an object")
        yield path, item


def unix_time(value: object, where: str, *, millis: bool = False) -> datetime:
    """Seconds (or milliseconds) since the epoch, as a number or numeric string, to aware UTC."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise PayloadError(f"{where} must be a unix timestamp") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where} must be a unix timestamp")
    try:
        return datetime.fromtimestamp(value / 1000 if millis else value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{where} is out of range") from None


# Twilio posts about 40 fields, Mailgun about 25 plus one part per attachment. More is an attack
# on the parser (a 3 MB `a=&a=&…` is a million fields): refused before parsing.
MAX_FORM_FIELDS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def _form_type(request: RawRequest) -> str:
    """The Content-Type with its parameters (a multipart body needs its boundary): the endpoint's
    `request.content_type` is the bare media type."""
    header = request.headers.get("content-type", "")
    return next((value for value in (request.content_type, header) if ";" in value), request.content_type or header)


def form_field_count(request: RawRequest) -> int:
    """At least the number of fields `form_fields` would parse, counted without parsing (a scan in C)."""
    content_type = _form_type(request)
    if content_type.lower().startswith("multipart/form-data"):
        boundary = _BOUNDARY.search(content_type)
        return request.body.count(b"--" + boundary.group(1).strip().encode("latin1")) if boundary else 0
    return request.body.count(b"&") + 1 if request.body else 0


def form_fields(request: RawRequest) -> list[tuple[str, str]]:
    """The fields of a urlencoded or multipart/form-data body, in order, files left out; PayloadError
    for more than MAX_FORM_FIELDS, before any parsing."""
    if form_field_count(request) > MAX_FORM_FIELDS:
        raise PayloadError(f"form has more than {MAX_FORM_FIELDS} fields")
    parsed = _parsed_form(_form_type(request), request.body)
    if isinstance(parsed, PayloadError):
        raise PayloadError(str(parsed))
    return list(parsed)


# One request's form is read by the check of each distinct secret, the dedup key and the parse:
# parsed once (a multipart body of 300 parts takes the stdlib ~50 ms). Keeps at most 4 bodies.
@lru_cache(maxsize=4)
def _parsed_form(content_type: str, body: bytes) -> tuple[tuple[str, str], ...] | PayloadError:
    try:
        if content_type.lower().startswith("multipart/form-data"):
            return tuple(_multipart_fields(content_type, body))
        return tuple(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except PayloadError as exc:
        return exc
    except (UnicodeDecodeError, ValueError):
        return PayloadError("form body is not valid UTF-8 urlencoded data")


def _multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "replace")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            raise PayloadError("multipart body has no parts")
        fields = []
        for part in message.iter_parts():
            if part.get_param("filename", header="content-disposition"):
                continue  # an attachment, not a field
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True) or b""
            fields.append((name, payload.decode(part.get_content_charset() or "utf-8")))
        return fields
    except PayloadError:
        raise
    except (ValueError, LookupError, TypeError, AttributeError, IndexError):
        # The stdlib MIME parser is lenient but raises these on hostile headers and charsets.
        raise PayloadError("multipart body is malformed") from None


def dig(obj: object, *path: str | int) -> str:
    """A nested value as text, or "" when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int) and isinstance(obj, list) and -len(obj) <= step < len(obj):
            obj = obj[step]
        elif isinstance(step, str) and isinstance(obj, dict):
            obj = obj.get(step)
        else:
            return ""
    if isinstance(obj, bool) or not isinstance(obj, str | int):
        return ""
    return str(obj)


# ---------------------------------------------------------------- normalizing


def e164(number: str) -> str:
    """'+4915…' or bare international digits (a wa_id) to E.164; "" when it is not a phone number."""
    candidate = number.strip()
    if not candidate:
        return ""
    if not candidate.startswith("+"):
        candidate = "+" + candidate
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def with_keyword_opt_out(message: InboundMessage, *, forced: bool = False) -> list[NormalizedEvent]:
    """The message, plus an OptOut when it is a STOP-style keyword (or the platform says so)."""
    keyword = message.kind == "text" and is_opt_out_text(message.text)
    if message.is_echo or not (keyword or forced):
        return [message]
    opt_out = OptOut(
        channel_key=message.channel_key, contact_id=message.contact_id, reason="keyword", timestamp=message.timestamp
    )
    return [message, opt_out]


# ---------------------------------------------------------------- sending


# Failures before the request left: nothing reached the provider.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def post(
    client: httpx.Client,
    url: str,
    *,
    external_id: Callable[[dict], str],
    error: Callable[[dict], tuple[str, str]],
    retryable_codes: frozenset[str] = frozenset(),
    **request: object,
) -> SendResult:
    """POST and map the answer: 2xx ok; 429, 5xx, timeouts and transport errors retryable;
    other 4xx final, with the provider's code and title. Never raises for provider trouble."""
    try:
        response = client.post(url, **request)
    except NOT_SENT as exc:  # the request never reached the provider: safe to send again
        return SendResult(ok=False, retryable=True, error_code=type(exc).__name__, error_title=str(exc))
    except httpx.TransportError as exc:  # after the request was written: the provider may have it
        return SendResult(ok=False, retryable=True, ambiguous=True, error_code=type(exc).__name__, error_title=str(exc))
    except httpx.RequestError as exc:  # redirects, undecodable answer: retrying would not help
        return SendResult(ok=False, error_code=type(exc).__name__, error_title=str(exc))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"text": response.text[:1000]} if response.content else {}
    status = response.status_code
    if response.is_success:
        return SendResult(ok=True, external_id=external_id(body), status_code=status, response=body)
    code, title = error(body)
    retryable = status == 429 or status >= 500 or code in retryable_codes
    return SendResult(
        ok=False,
        retryable=retryable,
        ambiguous=status >= 500 and not code,  # a gateway's 5xx, no provider error: it may have gone through
        status_code=status,
        error_code=code or str(status),
        error_title=title or response.reason_phrase,
        response=body,
    )


def placeholders(text: str) -> list[str]:
    """The {placeholders} of a template text in order of first appearance (Meta's positional
    {{1}}, {{2}}…); none when a stray brace makes the text unparsable."""
    try:
        return list(dict.fromkeys(field for _, field, _, _ in string.Formatter().parse(text) if field))
    except ValueError:
        return []


def filled(text: str, variables: dict, *, escape: Callable[[str], str] = str) -> str:
    """`text` with each {placeholder} replaced by its escaped variable ("" when missing). The whole
    field is the variable's name: no format spec or attribute access ever reaches into a value."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return text
    return "".join(literal + (escape(str(variables.get(field, ""))) if field is not None else "")
                   for literal, field, _, _ in parts)


def no_provider_template(**template: object) -> None:
    """Adapter.template_for of a platform without provider templates: the rendered text goes out."""
    return None


def unsupported_template(platform: str) -> SendResult:
    return SendResult(
        ok=False,
        error_code="template_unsupported",
        error_title=f"{platform} has no provider templates: render the template to text before sending",
    )


# ---------------------------------------------------------------- adapter defaults


def own_channel_keys(*, request: RawRequest) -> list[str]:
    """`channel_candidates` of a platform whose events name their channel: nothing to try first."""
    return []


def any_channel(*, request: RawRequest) -> str | None:
    """`secret_channel_name` of a platform whose requests do not name their channel."""
    return None


def no_replay_token(*, request: RawRequest) -> str:
    """`replay_token` of a platform whose signature covers the body: a replay is a redelivery."""
    return ""
