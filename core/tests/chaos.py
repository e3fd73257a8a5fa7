"""Fault injection for the chaos test: a pub/sub channel layer that drops a share of group sends,
as a full or broken channel layer does (at most once delivery). Used only when the test sets
CHANNEL_LAYER_DROP in a server's or worker's environment (config/settings.py)."""
from __future__ import annotations

import os
import random
import sys

from channels_redis.pubsub import RedisPubSubChannelLayer

_rate = float(os.environ.get("CHANNEL_LAYER_DROP", "0") or 0)
_random = random.Random(int(os.environ.get("CHANNEL_LAYER_DROP_SEED", "7")))


class DroppingPubSubLayer(RedisPubSubChannelLayer):
    async def group_send(self, group, message):
        if message.get("type") == "inbox.event" and _random.random() < _rate:
            print(f"chaos: dropped a frame to {group}", file=sys.stderr, flush=True)  # the test counts these
            return
        return await super().group_send(group, message)
