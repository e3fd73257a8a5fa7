"""Client actions on the inbox socket: validated here, performed by services."""
from __future__ import annotations

from django.core.cache import cache

from core.errors import AccessDenied
from inbox.services.conversations import conversation_mark_read
from inbox.services.messages import message_compose, typing_notify

SCHEMAS = {
    "resume": {"after": int},
    "typing": {"conversation_id": int},
    "mark_read": {"conversation_id": int},
    "send": {"conversation_id": int, "text": str},
}
OPTIONAL = {"send": {"client_id": str, "template_id": int, "variables": dict}}
TYPING_EVERY_SECONDS = 2
MAX_SEQ = 2**63 - 1  # seq is a bigint: a larger `after` would fail in the database, not here


def error_frame(code: str, detail: str) -> dict:
    return {"event": "error", "seq": None, "data": {"code": code, "detail": detail}}


def parse(payload) -> tuple[str, dict, str]:
    """(action, args, problem): problem names the first thing wrong, or is empty."""
    if not isinstance(payload, dict):
        return "", {}, "frame must be a JSON object"
    action = payload.get("action")
    if not isinstance(action, str):
        return "", {}, "missing field 'action'"
    if action not in SCHEMAS:
        return "", {}, f"unknown action {action!r}; expected one of {', '.join(SCHEMAS)}"
    args = {}
    optional = OPTIONAL.get(action, {})
    for name, kind in {**SCHEMAS[action], **optional}.items():
        if name not in payload:
            if name in optional or (action == "send" and name == "text" and "template_id" in payload):
                continue
            return action, {}, f"{action}: missing field {name!r}"
        value = payload[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            return action, {}, f"{action}: field {name!r} must be {kind.__name__}"
        args[name] = value
    if action == "resume" and not 0 <= args["after"] <= MAX_SEQ:
        return action, {}, f"resume: 'after' must be between 0 and {MAX_SEQ}"
    return action, args, ""


def perform(*, user, action: str, args: dict) -> dict:
    try:
        if action == "typing":
            # Ephemeral and rate-limited: at most one typing event per user and conversation every 2 s.
            if cache.add(f"typing:{user.id}:{args['conversation_id']}", 1, TYPING_EVERY_SECONDS):
                typing_notify(user=user, conversation_id=args["conversation_id"])
            return {"event": "ok", "seq": None, "data": {"action": "typing"}}
        if action == "mark_read":
            conversation_mark_read(user=user, conversation_id=args["conversation_id"])
            return {"event": "ok", "seq": None, "data": {"action": "mark_read", "conversation_id": args["conversation_id"]}}
        message, created = message_compose(
            user=user, conversation_id=args["conversation_id"], text=args.get("text", ""),
            template_id=args.get("template_id"), variables=args.get("variables"),
            idempotency_key=args.get("client_id", ""),
        )
        return {"event": "ok", "seq": None, "data": {"action": "send", "message_id": message.id, "created": created,
                                                    "client_id": args.get("client_id", "")}}
    except AccessDenied as exc:
        return error_frame("not_found", str(exc))
    except ValueError as exc:
        return error_frame("invalid", str(exc))
