"""Platform adapters: each knows one platform in both directions and is a `base.Adapter`.
Adding a platform is one module and one entry in ADAPTERS.
"""
from __future__ import annotations

from . import email, service, sms, whatsapp
from .base import Adapter
from .meta_messaging import instagram, messenger

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (whatsapp, messenger, instagram, sms, email, service)}


def get_adapter(name: str) -> Adapter | None:
    return ADAPTERS.get(name)


def all_secret_names() -> tuple[str, ...]:
    """Every secret name some adapter reads, sorted: the keys a Channel may store."""
    return tuple(sorted({secret for adapter in ADAPTERS.values() for secret in adapter.secret_names}))
