"""The harness's own bookkeeping, without servers: who is in an audience, how frames are counted."""
import json
import re

from bench.report import targets
from bench.seed import World
from bench.sockets import MARK, Fleet


def _world() -> World:
    # 5 reps in teams of 2 (users 11..15), managers 21..26, admin 1
    return World(channel_id=1, rep_users=[11, 12, 13, 14, 15], team_size=2,
                 team_managers=[[21, 22], [23, 24], [25, 26]], admin_user=1)


def test_socket_users_are_the_admin_then_each_team_with_its_managers():
    world = _world()
    assert world.socket_users(100) == [1, 11, 12, 21, 22, 13, 14, 23, 24, 15, 25, 26]
    assert world.socket_users(5) == [1, 11, 12, 21, 22]
    assert world.audience(14) == {1, 23, 24}


def test_a_marked_frame_counts_for_its_rep_and_as_audience_or_misrouted_elsewhere():
    fleet = Fleet("ws://unused")
    fleet.expect["bm1x0z"] = 11
    fleet.allowed[11] = _world().audience(11)
    for uid in (21, 1, 11, 11, 23):
        fleet._marked(uid, MARK.search("bench bm1x0z"))
    assert fleet.first["bm1x0z"][1] == 11
    assert fleet.per_step[1] == 1
    assert (fleet.audience_frames, fleet.misrouted) == (2, 1)
    assert len(fleet.every["bm1x0z"]) == 5


def test_status_ticks_are_timed_on_the_rep_socket_from_single_and_summarized_frames():
    fleet = Fleet("ws://unused")
    fleet.track = {7: 11, 8: 12}
    fleet._tick(11, json.dumps({"event": "message.updated", "seq": 3, "data": {"id": 7, "status": "read"}}))
    fleet._tick(21, json.dumps({"event": "message.updated", "seq": 4, "data": {"id": 7, "status": "read"}}))
    fleet._tick(12, json.dumps({"event": "messages.changed", "seq": 5, "data": {
        "conversation_id": 2, "messages": [{"id": 8, "status": "delivered"}, {"id": 9, "status": "read"}]}}))
    assert set(fleet.ticks) == {(7, "read"), (8, "delivered")}
    assert fleet.tick_counts == {"read": 1, "delivered": 1}
    assert fleet.tick_audience == 1


def test_targets_without_rows_say_not_measured_and_are_not_met():
    rows = targets([], smoke=False)
    assert len(rows) == 11
    assert all(r["met"] in (False, None) for r in rows)
    assert any(re.search("not measured", r["measured"]) for r in rows)
