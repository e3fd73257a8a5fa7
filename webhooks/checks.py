"""What the endpoint decides about a request before it stores it, in one sync function that runs off
the event loop (webhooks/endpoint.py): who signed it, whether its events are for those channels, and
the key that makes a redelivery a duplicate."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from platforms.base import Adapter, PayloadError, RawRequest
from webhooks import routing


@dataclass(frozen=True)
class Verdict:
    status: int  # 200: store it; otherwise the answer
    detail: str = ""
    signed_by: tuple[int, ...] = ()  # the channels whose secret signed it, kept for processing
    dedup_key: str = ""
    nonce: str = ""  # sha256 of the platform's single-use token; "" where the signature covers the body


def dedup_hash(*, platform: str, scope: Sequence[int], key: str) -> str:
    """Per channel (the same mail to two of our addresses is two events), and hashed: an id of any
    length dedups on all of it, never on a prefix."""
    return hashlib.sha256(f"{platform}\n{','.join(map(str, scope))}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()


def verdict(adapter: Adapter, request: RawRequest, channels: Sequence[routing.Routable], now: float) -> Verdict:
    signers = routing.signed_by(adapter, request, channels, now)
    if not signers:
        return Verdict(401, "signature missing or invalid")
    try:
        items = adapter.parse(request=request)
    except PayloadError as exc:
        return Verdict(400, f"malformed {adapter.name} payload: {exc}")
    targets = {channel.id for channel, _ in routing.routed(adapter, request, items, channels) if channel is not None}
    if targets - signers:
        return Verdict(401, "signed with the secret of another channel than the events are for")
    token = adapter.replay_token(request=request)
    return Verdict(
        200,
        signed_by=tuple(sorted(signers)),
        dedup_key=dedup_hash(platform=adapter.name, scope=sorted(targets or signers), key=adapter.dedup_key(request=request)),
        nonce=hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest() if token else "",
    )
