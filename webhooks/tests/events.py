"""Helpers for tests that post real webhooks and watch their stored events."""
from __future__ import annotations

import json
import time

from webhooks.models import WebhookEvent


def whatsapp_payload(phone_number_id: str, text: str, wa_id: str = "4915100000009") -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": phone_number_id},
             "contacts": [{"profile": {"name": "Una Routed"}, "wa_id": wa_id}],
             "messages": [{"from": wa_id, "id": f"wamid.{time.monotonic_ns()}", "timestamp": str(int(time.time())),
                           "type": "text", "text": {"body": text}}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}).encode()


def wait_state(event_id: int, *, leave: str = "received", timeout: float = 30) -> WebhookEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = WebhookEvent.objects.get(pk=event_id)
        if event.state != leave:
            return event
        time.sleep(0.1)
    raise AssertionError(f"webhook event {event_id} stayed {leave}")
