"""ASGI entry: HTTP through Django, /ws/inbox/ through the inbox consumer behind the origin check."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from config.daphne_tuning import close_oversized_frames, refuse_large_bodies, skip_form_parsing  # noqa: E402
from core.ws_auth import CLOSE_TOO_BIG, OriginCheck  # noqa: E402
from inbox.consumers import InboxConsumer  # noqa: E402
from webhooks.asgi import PREFIX, with_webhooks  # noqa: E402

skip_form_parsing()
refuse_large_bodies(prefix=PREFIX.encode(), limit=settings.WEBHOOK_MAX_BODY_BYTES)
close_oversized_frames(limit=settings.WS_MAX_FRAME_BYTES, code=CLOSE_TOO_BIG)

application = ProtocolTypeRouter(
    {
        # Assets come from the app (no CDN); the handler is async, so no sync middleware sits in
        # front of the async webhook view.
        "http": with_webhooks(ASGIStaticFilesHandler(django_asgi)),
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter([path("ws/inbox/", InboxConsumer.as_asgi())]))),
    }
)
