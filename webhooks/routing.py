"""Which channel each event of a request is for, and which channels' secrets signed it.

The two must agree: a secret authenticates only the channels that hold it, so one channel's
secret never speaks for another channel of the same platform. Used when a request arrives (with
the cached channels) and again when it is processed (with fresh ones).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from platforms.base import Adapter, Ignored, NormalizedEvent, RawRequest


class Routable(Protocol):
    id: int
    name: str
    routing_key: str
    secrets: dict


def route(key: str, channels: Iterable[Routable]) -> Routable | None:
    key = key.lower()
    return next((c for c in channels if key in {c.routing_key.lower(), c.name.lower()}), None)


def rerouted(adapter: Adapter, request: RawRequest, items: list[NormalizedEvent],
             channels: Sequence[Routable]) -> list[NormalizedEvent]:
    """Route every item by the first of the adapter's candidates that names a channel, else by the
    items' own keys (Twilio: a pooled number may not be the one a channel was set up with, PITFALLS.md)."""
    for key in adapter.channel_candidates(request=request):
        if route(key, channels):
            return [item if isinstance(item, Ignored) else replace(item, channel_key=key) for item in items]
    return items


def routed(adapter: Adapter, request: RawRequest, items: list[NormalizedEvent],
           channels: Sequence[Routable]) -> list[tuple[Routable | None, NormalizedEvent]]:
    """Each item we act on with its channel (None where no channel has its key)."""
    return [(route(item.channel_key, channels), item)
            for item in rerouted(adapter, request, items, channels) if not isinstance(item, Ignored)]


def signed_by(adapter: Adapter, request: RawRequest, channels: Iterable[Routable], now: float) -> frozenset[int]:
    """The ids of the channels whose own signing secret signed `request`. Each distinct secret is
    tried once (a Twilio account's numbers share its auth token, a Meta app's pages its secret)."""
    name = adapter.secret_channel_name(request=request)
    holders: dict[str, set[int]] = {}
    for channel in channels:
        if name is not None and channel.name.lower() != name.lower():
            continue
        for secret_name in adapter.signing_secret_names:
            secret = channel.secrets.get(secret_name)
            if isinstance(secret, str) and secret:
                holders.setdefault(secret, set()).add(channel.id)
    signers: set[int] = set()
    for secret, ids in holders.items():
        if adapter.verify(request=request, secrets=[secret], now=now):
            signers |= ids
    return frozenset(signers)
