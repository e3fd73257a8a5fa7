"""A tutorial-style Channels app doing the same webhook → socket job, as the baseline to beat.

What the Channels tutorial and most blog posts do: a sync Django view that verifies the
signature, INSERTs the message and calls `async_to_sync(channel_layer.group_send)`; the core
Redis layer with its defaults; an AsyncWebsocketConsumer that joins `user_<id>`; daphne.
Run: DJANGO_SETTINGS_MODULE=bench.tutorial.settings daphne bench.tutorial.asgi:application
"""
