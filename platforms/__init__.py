"""Platform adapters: one module per platform knows it in both directions (verify, dedup_key,
parse, send; Meta platforms also handshake). Adding a platform is one module and one line here.
"""
from __future__ import annotations

from types import ModuleType

from . import email, instagram, messenger, service, sms, whatsapp

ADAPTERS: dict[str, ModuleType] = {
    "whatsapp": whatsapp,
    "messenger": messenger,
    "instagram": instagram,
    "sms": sms,
    "email": email,
    "service": service,
}


def get_adapter(name: str) -> ModuleType | None:
    return ADAPTERS.get(name)
