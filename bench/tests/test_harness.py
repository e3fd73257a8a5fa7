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
    assert len(rows) == 14
    assert all(r["met"] in (False, None) for r in rows)
    assert any(re.search("not measured", r["measured"]) for r in rows)


def test_steady_rate_leaves_out_the_start_up_and_the_stragglers():
    from bench.sends import overall_rate, steady_rate

    # 5 s to start, then 100/s for 10 s, then a slow tail of 10 messages over 5 s
    samples = [(t, 0) for t in range(6)] + [(5 + t, 100 * t) for t in range(1, 11)] + [(15 + t, 1000 + 2 * t) for t in range(1, 6)]
    assert steady_rate(samples) == 100
    assert round(overall_rate(samples), 1) == round(1010 / 20, 1)
    assert steady_rate([(0.5, 0), (1.0, 0)]) == 0.0


def test_pacing_gaps_are_per_rep_channel_and_capacity_is_judged_against_the_day_allowance():
    from datetime import UTC, date, datetime, timedelta

    from bench.sends import capacity_excess, gaps

    t = datetime(2026, 12, 2, 10, tzinfo=UTC)
    rows = [(1, t), (1, t + timedelta(seconds=1.5)), (2, t + timedelta(seconds=0.2)), (2, t + timedelta(seconds=1.2)),
            (2, None), (3, t)]
    assert gaps(rows) == [1.5, 1.0]
    day = date(2026, 12, 2)
    # (rep-channel, shift day, ledger rows, max capacity, stored warm-up allowance)
    result = capacity_excess([(1, day, 10, 10, None), (2, day, 11, 10, None), (3, day, 6, 10, 5), (4, day, 3, 10, 20)])
    assert (result["violations"], result["excess"], result["full"]) == (2, 2, {1, 2, 3})


def test_a_partial_run_keeps_the_earlier_rows_of_the_phases_it_did_not_run(tmp_path):
    from bench.report import merge_earlier

    def row(kind, name, **extra):
        return {"kind": kind, "name": name, "params": {}, "figures": {"x": 1}, "status": "ok", "note": "", **extra}


    earlier = {"date": "2026-12-02T01:20:35+00:00", "smoke": False,
               "rows": [row("baseline.celery_noop", "noop"), row("app.fanout.group_send", "fanout"), row("app.dispatch", "dispatch"),
                        row("error.setup", "run failed"), row("app.idle", "idle", params={"sockets": 10}, from_run="2026-11-30T10:00:00+00:00")]}
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    now = {"date": "2026-12-03T09:00:00+00:00", "smoke": False, "rows": [row("app.dispatch", "dispatch", phase="services"),
                                                                          row("app.loopback", "loopback", phase="services")]}
    merged = merge_earlier(now, tmp_path / "results.json", {"services"}, ("baselines", "app", "services", "fanout"))
    names = [(r["name"], r.get("from_run", "")[:10]) for r in merged["rows"]]
    assert names == [("noop", "2026-12-02"), ("idle", "2026-11-30"), ("dispatch", ""), ("loopback", ""), ("fanout", "2026-12-02")]
    assert merged["partial"]["kept_rows"] == 3 and len(merged["targets"]) == 14
    smoke = {**now, "smoke": True}
    assert merge_earlier(smoke, tmp_path / "results.json", {"services"}) is smoke
    assert merge_earlier(now, tmp_path / "missing.json", {"services"}) is now


def test_the_loopback_graph_api_counts_what_the_whatsapp_adapter_sends():
    import httpx

    from bench.loopback import LoopbackGraph
    from platforms import whatsapp

    with LoopbackGraph(phone_number_id="990020", token="tok", delay_s=0.01) as fake, httpx.Client(timeout=5) as client:
        def send(text, token="tok", pnid="990020"):
            return whatsapp.send(client=client, base_url=fake.url, config={"phone_number_id": pnid}, secrets={"access_token": token},
                                 to="4915100000001", text=text, idempotency_key=f"switchboard-msg-{text}")

        first = send("one")
        assert first.ok and first.external_id.startswith("wamid.")
        assert send("two").ok and send("one").ok
        assert not send("three", token="wrong").ok and not send("four", pnid="other").ok
        assert (fake.total, len(fake.by_message), fake.duplicates(), fake.callback_duplicates(), fake.malformed) == (3, 2, 1, 1, 2)
        assert fake.answered[("4915100000001", "one")] != first.external_id  # each request gets its own id


def test_a_run_of_some_services_steps_keeps_the_other_steps_rows(tmp_path):
    from bench.report import merge_earlier, phase_of

    def row(kind, name, **extra):
        return {"kind": kind, "name": name, "params": {}, "figures": {"x": 1}, "status": "ok", "note": "", **extra}

    earlier = {"date": "2026-12-02T01:20:35+00:00", "smoke": False,
               "rows": [row("app.dispatch", "dispatch", phase="services"), row("app.convlist", "list"),
                        row("app.paced_campaign", "paced", phase="services/paced-campaign")]}
    assert [phase_of(r) for r in earlier["rows"]] == ["services/dispatch", "services/convlist", "services/paced-campaign"]
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    now = {"date": "2026-12-03T09:00:00+00:00", "smoke": False,
           "rows": [row("app.paced_campaign", "paced", phase="services/paced-campaign")]}
    merged = merge_earlier(now, tmp_path / "results.json", {"services/paced-campaign"}, ("services",))
    assert sorted((r["name"], bool(r.get("from_run"))) for r in merged["rows"]) == [
        ("dispatch", True), ("list", True), ("paced", False)]
    everything = merge_earlier(now, tmp_path / "results.json", {"services"}, ("services",))
    assert everything is now  # the whole phase ran: none of its earlier rows is kept
