"""`make run`'s supervisor, on real child processes: a crash is restarted with a log line; a
process that keeps dying at start stops the stack with the reason."""
from __future__ import annotations

import io
import sys
import time

from config.run import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_crashed_process_is_restarted_and_the_others_keep_running(tmp_path):
    marker = tmp_path / "runs"
    # dies the first time, then stays up
    flaky = [sys.executable, "-c", f"import pathlib, sys, time; p = pathlib.Path({str(marker)!r}); n = len(p.read_text()) "
             f"if p.exists() else 0; p.write_text('x' * (n + 1)); sys.exit(3) if n == 0 else time.sleep(60)"]
    out = io.StringIO()
    supervisor = Supervisor({"web": SLEEPER, "worker": flaky}, out=out)
    supervisor.start()
    web = supervisor.procs["web"]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and supervisor.restarts["worker"] == 0:
            supervisor.check()
            time.sleep(0.1)
        assert "worker exited with status 3; restarting it (restart 1" in out.getvalue()
        assert supervisor.procs["web"] is web and web.poll() is None  # the rest of the stack never stopped
        time.sleep(0.5)
        supervisor.check()
        assert supervisor.procs["worker"].poll() is None and marker.read_text() == "xx"
        assert not supervisor.stopping
    finally:
        supervisor.stop()
    assert all(p.poll() is not None for p in supervisor.procs.values())


def test_a_process_that_keeps_dying_at_start_stops_the_stack_with_the_reason():
    out = io.StringIO()
    supervisor = Supervisor({"beat": [sys.executable, "-c", "import sys; sys.exit(2)"]}, out=out)
    supervisor.QUICK, supervisor.PAUSE = 60.0, 0.01
    supervisor.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not supervisor.stopping:
            supervisor.check()
            time.sleep(0.05)
    finally:
        supervisor.stop()
    assert supervisor.failed == "beat exited 5 times right after starting (status 2); stopping the rest"
    assert out.getvalue().count("restarting it") == 4
