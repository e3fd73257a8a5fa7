"""Fixture loading, request signing and fuzzing strategies shared by the adapter tests."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

from hypothesis import strategies as st

from platforms.base import (
    Adapter,
    Ignored,
    InboundMessage,
    OptOut,
    PayloadError,
    RawRequest,
    StatusUpdate,
    Watermark,
)

FIXTURES = Path(__file__).parent / "fixtures"
EVENT_TYPES = (InboundMessage, StatusUpdate, Watermark, OptOut, Ignored)


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / f"{name}.json").read_bytes()


def fixture_fields(platform: str, name: str) -> dict[str, str]:
    return json.loads(fixture_bytes(platform, name))


# ---------------------------------------------------------------- Meta


def meta_request(body: bytes, secret: str = "app-secret") -> RawRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return RawRequest(
        body=body,
        headers={"x-hub-signature-256": f"sha256={signature}", "content-type": "application/json"},
        url="https://inbox.example.com/webhooks/whatsapp/",
        content_type="application/json",
    )


# ---------------------------------------------------------------- forms


def form_request(fields: dict[str, str] | list[tuple[str, str]], url: str = "", headers: dict | None = None) -> RawRequest:
    return RawRequest(
        body=urlencode(fields).encode(),
        headers=headers or {},
        url=url,
        content_type="application/x-www-form-urlencoded",
    )


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Written from Twilio's documentation, independently of the adapter."""
    data = url + "".join(key + value for key, value in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def multipart(fields: dict[str, str], boundary: str = "----switchboard-test") -> tuple[bytes, str]:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachment-1"; filename="quote.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n%PDF-1.4 not a field\r\n".encode()
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replace(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


def mutations(document: dict) -> st.SearchStrategy[bytes]:
    """The document with one node (anywhere, root included) replaced by random JSON:
    near-valid payloads reach much deeper into a parser than random bytes do."""
    paths = list(_paths(document))
    return st.builds(
        lambda path, value: json.dumps(_replace(document, path, value)).encode(),
        st.sampled_from(paths),
        json_values,
    )


def parse_or_reject(adapter: Adapter, request: RawRequest) -> None:
    """The adapter contract for hostile input: a list of events, or PayloadError; nothing else."""
    try:
        events = adapter.parse(request=request)
    except PayloadError:
        pass
    else:
        assert isinstance(events, list)
        assert all(isinstance(event, EVENT_TYPES) for event in events)
    assert isinstance(adapter.dedup_key(request=request), str)
    assert adapter.verify(request=request, secrets=["s3cret"], now=1749416383.0) in (True, False)
