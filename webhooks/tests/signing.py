"""Sign fixture payloads the way each platform does, for requests to our own endpoint."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets as pysecrets
import time
from urllib.parse import urlencode

from platforms import service
from platforms.tests.helpers import FIXTURES, twilio_signature

SECRET = "test-signing-secret"
FORM_PLATFORMS = {"sms", "email"}
URL = "http://testserver/webhooks/{platform}/"


def fixture_names(platform: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / platform).glob("*.json"))


def signed(platform: str, body_or_fields, *, secret: str = SECRET) -> tuple[bytes, str, dict]:
    """(body, content type, extra headers) signed for `platform`."""
    if platform in FORM_PLATFORMS:
        fields = dict(body_or_fields)
        if platform == "email":
            fields["timestamp"], fields["token"] = str(int(time.time())), pysecrets.token_hex(16)
            fields["signature"] = hmac.new(secret.encode(), (fields["timestamp"] + fields["token"]).encode(), hashlib.sha256).hexdigest()
        body = urlencode(fields).encode()
        headers = {}
        if platform == "sms":
            headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(secret, URL.format(platform=platform), sorted(fields.items()))
        return body, "application/x-www-form-urlencoded", headers
    body = body_or_fields if isinstance(body_or_fields, bytes) else json.dumps(body_or_fields).encode()
    if platform == "service":
        return body, "application/json", {
            "HTTP_X_SWITCHBOARD_SIGNATURE": service.sign(secret=secret, body=body, timestamp=int(time.time())),
            "HTTP_X_SWITCHBOARD_CHANNEL": "svc",
        }
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, "application/json", {"HTTP_X_HUB_SIGNATURE_256": f"sha256={signature}"}


def load(platform: str, name: str):
    raw = (FIXTURES / platform / f"{name}.json").read_bytes()
    return json.loads(raw) if platform in FORM_PLATFORMS else raw
