import hashlib
import hmac
import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from bench.tutorial.models import Message

REP_OF_CONTACT = """
    SELECT r.user_id FROM inbox_contactidentity i
    JOIN inbox_conversation c ON c.contact_id = i.contact_id AND c.status <> 'resolved'
    JOIN salesreps_salesrep r ON r.id = c.rep_id
    WHERE i.external_id = %s LIMIT 1
"""


@csrf_exempt
def webhook(request):
    expected = "sha256=" + hmac.new(settings.WEBHOOK_APP_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
        return HttpResponse(status=401)
    data = json.loads(request.body)
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    text = message["text"]["body"]
    Message.objects.create(sender=message["from"], body=text)
    with connection.cursor() as cursor:
        cursor.execute(REP_OF_CONTACT, [message["from"]])
        row = cursor.fetchone()
    if row:
        async_to_sync(get_channel_layer().group_send)(f"user_{row[0]}", {"type": "chat.message", "body": text})
    return JsonResponse({"status": "ok"})
