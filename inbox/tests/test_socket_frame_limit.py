"""Frames over WS_MAX_FRAME_BYTES close the socket with the documented 4413, however large: daphne's
own limit (1 MiB by default) used to drop the connection first, which the client saw as 1006."""
import asyncio

import pytest

from core.ws_auth import CLOSE_TOO_BIG
from inbox.tests.factories import make_rep
from inbox.tests.socket_client import Socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("frame", ["x" * (2 * 1024 * 1024), b"\0" * (2 * 1024 * 1024), "y" * (64 * 1024 + 1)],
                         ids=["2MB-text", "2MB-binary", "just-over-the-limit"])
def test_an_oversized_frame_closes_the_socket_with_4413(asgi_server, frame):
    rep = make_rep("big-frames")

    async def scenario():
        socket = await Socket.open(asgi_server, rep.user)
        await socket.frame()
        await socket.ws.send(frame)
        return await socket.closed_code()

    assert asyncio.run(scenario()) == CLOSE_TOO_BIG


def test_a_frame_at_the_limit_reaches_the_consumer(asgi_server):
    rep = make_rep("limit-frames")

    async def scenario():
        socket = await Socket.open(asgi_server, rep.user)
        await socket.frame()
        await socket.ws.send("x" * (64 * 1024))
        frames = await socket.frames_until(lambda f: f["event"] == "error")
        await socket.close()
        return frames[-1]

    assert asyncio.run(scenario())["data"]["code"] == "bad_json"
