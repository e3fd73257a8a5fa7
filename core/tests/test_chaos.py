"""The real-time contract under chaos. 20 sockets of 4 users (two reps, the team's manager and an
admin; every user has several tabs) watch a daphne and a Celery worker whose channel layer drops
10 % of frames, while signed webhooks, sends, status webhooks and reassignments make events, and
every socket is cut three times at random (it reconnects with ?after=its last seq). At the end
each client saw each of its seqs once and in order, saw no conversation outside its scope, and
holds what the REST API returns."""
from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conftest import BIN, ROOT, Worker, _free_port, _test_env, _wait_port
from core.models import EventCursor
from core.ws_auth import ticket_issue
from inbox.models import Conversation, Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team, make_user
from platforms.tests.helpers import FIXTURES
from webhooks.tests.signing import SECRET, signed

PNID = "106540352242922"
CHAOS_ENV = {"CHANNEL_LAYER_DROP": "0.1", "WEBHOOK_PROCESSING": "server"}
CONTACTS = [f"1415555{n:04d}" for n in range(8)]


def _whatsapp(payload_kind: str, **fields) -> bytes:
    if payload_kind == "text":
        payload = json.loads((FIXTURES / "whatsapp" / "text__basic.json").read_bytes())
        value = payload["entry"][0]["changes"][0]["value"]
        value["contacts"][0]["wa_id"] = fields["wa_id"]
        value["messages"][0].update({"from": fields["wa_id"], "id": fields["id"], "timestamp": str(int(time.time()))})
        value["messages"][0]["text"]["body"] = fields["body"]
    else:
        payload = json.loads((FIXTURES / "whatsapp" / "status__delivered.json").read_bytes())
        value = payload["entry"][0]["changes"][0]["value"]
        status = value["statuses"][0]
        status.update({"id": fields["id"], "status": fields["status"], "timestamp": str(int(time.time())),
                       "recipient_id": fields["wa_id"]})
    value["metadata"]["phone_number_id"] = PNID
    return json.dumps(payload).encode()


class Client:
    """One browser tab: applies frames to its state as the inbox does, and checks the contract."""

    def __init__(self, user, rep_id: int | None):
        self.user, self.rep_id = user, rep_id
        self.last, self.seqs, self.problems = 0, [], []
        self.conversations: dict[int, dict] = {}
        self.messages: dict[int, dict] = {}
        self.seen_conversations: set[int] = set()
        self.connected = asyncio.Event()

    def apply(self, frame: dict) -> None:
        seq, event, data = frame.get("seq"), frame["event"], frame.get("data") or {}
        if seq is None:
            return
        if seq != self.last + 1:
            self.problems.append(f"seq {seq} after {self.last}")
        self.last = max(self.last, seq)
        self.seqs.append(seq)
        if event in ("message.created", "message.updated"):
            self.messages[data["id"]] = {**self.messages.get(data["id"], {}), **data}
            self.seen_conversations.add(data["conversation_id"])
        elif event == "messages.changed":
            for change in data["messages"]:
                self.messages[change["id"]] = {**self.messages.get(change["id"], {}), **change}
        elif event in ("conversation.created", "conversation.updated", "conversation.assigned", "conversations.changed"):
            batch = data["conversations"] if event == "conversations.changed" else [
                data["conversation"] if event == "conversation.assigned" else data]
            for conversation in batch:
                self.seen_conversations.add(conversation["id"])
                if self.rep_id is not None and conversation["rep_id"] != self.rep_id:
                    self.conversations.pop(conversation["id"], None)  # reassigned away: out of this rep's view
                else:
                    self.conversations[conversation["id"]] = conversation

    async def run(self, base: str, stop: asyncio.Event, cuts: list[float]) -> None:
        started = time.monotonic()
        while True:
            ticket = (await sync_to_async(ticket_issue)(user=self.user)).key
            resuming = self.connected.is_set()
            url = f"{base.replace('http://', 'ws://')}/ws/inbox/?ticket={ticket}" + (f"&after={self.last}" if resuming else "")
            import websockets

            async with websockets.connect(url, max_size=2**22) as ws:
                ready = json.loads(await ws.recv())
                if not resuming:
                    self.last = self.first = ready["data"]["seq"]
                self.connected.set()
                cut_at = cuts.pop(0) if cuts else None
                while True:
                    if cut_at is not None and time.monotonic() - started >= cut_at:
                        break  # cut: the tab loses its connection
                    if stop.is_set():
                        return  # the test saw every client caught up
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                    except TimeoutError:
                        continue
                    self.apply(frame)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_client_converges_on_the_rest_state_with_each_seq_once_in_order():
    rng = random.Random(20261201)
    team = make_team()
    manager, rep_a, rep_b = make_rep(team=team, role="manager"), make_rep(team=team), make_rep(team=team)
    admin = make_user(superuser=True)
    channel = make_channel("whatsapp", name="wa", routing_key=PNID, secrets={"app_secret": SECRET})
    for rep in (rep_a, rep_b):
        make_rep_channel(rep, channel)
    clients = ([Client(rep_a.user, rep_a.id) for _ in range(6)] + [Client(rep_b.user, rep_b.id) for _ in range(5)]
               + [Client(manager.user, None) for _ in range(5)] + [Client(admin, None) for _ in range(4)])
    port = _free_port()
    log = open(ROOT / "var" / "daphne-chaos.log", "w")
    daphne = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                              env={**_test_env(), **CHAOS_ENV}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    worker = Worker(name="chaos", env=CHAOS_ENV)
    base = f"http://127.0.0.1:{port}"
    history: dict[int, set[int]] = {}  # conversation id -> every rep it was assigned to
    try:
        _wait_port(port, daphne, "chaos daphne")
        worker.start()

        def token(user) -> str:
            from rest_framework.authtoken.models import Token

            return Token.objects.get_or_create(user=user)[0].key

        tokens = {u.id: token(u) for u in (rep_a.user, rep_b.user, manager.user)}

        async def drive(stop: asyncio.Event) -> int:
            events = 0
            async with httpx.AsyncClient(base_url=base, timeout=20) as http:
                async def webhook(body: bytes) -> None:
                    payload, content_type, headers = signed("whatsapp", body)
                    headers = {k[5:].replace("_", "-").lower(): v for k, v in headers.items()}
                    response = await http.post("/webhooks/whatsapp/", content=payload, headers={**headers, "content-type": content_type})
                    assert response.status_code == 200, response.text

                for n, wa_id in enumerate(CONTACTS):
                    await webhook(_whatsapp("text", wa_id=wa_id, id=f"wamid.first.{n}", body=f"hello {n}"))
                await asyncio.sleep(1)
                for op in range(340):  # ~500 events (#14 item 7)
                    conversations = await sync_to_async(lambda: list(Conversation.objects.values_list("id", "rep_id")))()
                    for conversation_id, rep_id in conversations:
                        history.setdefault(conversation_id, set()).add(rep_id)
                    kind = rng.random()
                    if kind < 0.45 or not conversations:
                        wa_id = rng.choice(CONTACTS)
                        await webhook(_whatsapp("text", wa_id=wa_id, id=f"wamid.op.{op}", body=f"op {op}"))
                        events += 2
                    elif kind < 0.7:
                        conversation_id, rep_id = rng.choice(conversations)
                        response = await http.post(f"/api/conversations/{conversation_id}/messages/", json={"text": f"reply {op}"},
                                                   headers={"Authorization": f"Token {tokens[rep_user_id(rep_id)]}",
                                                            "Idempotency-Key": f"op-{op}"})
                        assert response.status_code == 201, response.text
                        events += 2
                    elif kind < 0.9:
                        sent = await sync_to_async(lambda: list(Message.objects.filter(direction="out", status__in=["sent", "delivered"])
                                                                .values_list("external_id", "conversation__contact__identities__external_id")[:20]))()
                        if sent:
                            external_id, wa_id = rng.choice(sent)
                            await webhook(_whatsapp("status", id=external_id, wa_id=wa_id, status=rng.choice(["delivered", "read"])))
                            events += 1
                    else:
                        conversation_id, rep_id = rng.choice(conversations)
                        target = rep_b.id if rep_id == rep_a.id else rep_a.id
                        history.setdefault(conversation_id, set()).add(target)
                        response = await http.post(f"/api/conversations/{conversation_id}/assign/", json={"rep_id": target},
                                                   headers={"Authorization": f"Token {tokens[manager.user.id]}"})
                        assert response.status_code == 200, response.text
                        events += 1
                    await asyncio.sleep(0.02)
            return events

        def rep_user_id(rep_id: int) -> int:
            return rep_a.user.id if rep_id == rep_a.id else rep_b.user.id

        async def scenario() -> int:
            stop = asyncio.Event()
            tasks = [asyncio.ensure_future(c.run(base, stop, sorted(rng.uniform(1, 12) for _ in range(3)))) for c in clients]
            await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 60)  # every tab open first
            made = await drive(stop)
            # let the last relays, the worker's sends and the periodic seq check (3 s) catch every socket up
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                cursors = await sync_to_async(lambda: dict(EventCursor.objects.values_list("user_id", "last_seq")))()
                if all(c.last >= cursors.get(c.user.id, 0) for c in clients) and await sync_to_async(
                        lambda: not Message.objects.filter(status__in=["queued", "sending"]).exists())():
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(4)  # one more periodic check after the last frame
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            return made

        made = async_to_sync(scenario)()
    finally:
        worker.stop()
        daphne.terminate()
        daphne.wait(10)
        log.close()

    assert made >= 500
    assert (ROOT / "var" / "daphne-chaos.log").read_text().count("chaos: dropped a frame") >= 20  # the layer did drop
    cursors = dict(EventCursor.objects.values_list("user_id", "last_seq"))
    assert sum(cursors.values()) >= 500  # events delivered, counted per recipient
    api = {}
    for user in {c.user.id: c.user for c in clients}.values():
        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(user)
        conversations = {c["id"]: c for c in client.get("/api/conversations/", {"page_size": 100}).json()["results"]}
        messages = {}
        for conversation_id in conversations:
            for m in client.get(f"/api/conversations/{conversation_id}/messages/", {"page_size": 100}).json()["results"]:
                messages[m["id"]] = m
        api[user.id] = (conversations, messages)
    for c in clients:
        assert c.problems == [], c.problems[:5]
        assert c.seqs == list(range(c.first + 1, c.first + 1 + len(c.seqs))) and c.last == cursors[c.user.id]
        conversations, messages = api[c.user.id]
        assert set(c.conversations) == set(conversations)
        for conversation_id, conversation in conversations.items():
            mine = c.conversations[conversation_id]
            fields = ("rep_id", "status", "unread_count", "last_message_preview")
            assert {f: mine[f] for f in fields} == {f: conversation[f] for f in fields}, conversation_id
        stable = {cid for cid, reps in history.items() if len(reps) == 1}  # never reassigned: its history is all live
        for message_id, message in messages.items():
            if c.rep_id is None or message["conversation_id"] in stable:
                assert message_id in c.messages, (message_id, message, c.rep_id, c.user.id, sorted(c.messages)[:12], c.seqs[:5])
                assert c.messages[message_id]["status"] == message["status"], message_id
        if c.rep_id is not None:
            assert all(c.rep_id in history.get(cid, {c.rep_id}) for cid in c.seen_conversations)  # nothing outside scope
