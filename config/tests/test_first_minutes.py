"""README's first minutes, for real: `python -m config.run` (what `make run` starts) brings up daphne,
a worker and beat; `manage.py demo_inbound whatsapp "Hello"` makes the demo contact write in; the
console shows one line per request and no Celery chatter while idle."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, _free_port, _test_env, _wait_port
from inbox.models import Message


def _read_until(proc: subprocess.Popen, lines: list[str], needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"config.run exited ({proc.poll()}) before {needle!r}:\n" + "".join(lines))
        lines.append(line)
        if needle in line:
            return
    raise AssertionError(f"no {needle!r} within {timeout}s:\n" + "".join(lines))


@pytest.mark.django_db(transaction=True)  # config.run seeds the demo data into the test database
def test_make_run_then_demo_inbound_puts_a_message_in_the_inbox_and_the_console_stays_quiet():
    port = _free_port()
    # As make run has it: webhooks processed by the worker (the test default is in the server).
    env = {**_test_env(), "PORT": str(port), "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1", "WEBHOOK_PROCESSING": "worker",
           "SWITCHBOARD_NAMESPACE": f"first{port}"}  # one namespace for the three processes (tests key it by pid)
    env.pop("CELERY_LOG_LEVEL", None)
    proc = subprocess.Popen([sys.executable, "-m", "config.run"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    try:
        _read_until(proc, lines, "Switchboard is running at", timeout=120)
        _wait_port(port, proc, "config.run's daphne")
        demo = subprocess.run([sys.executable, "manage.py", "demo_inbound", "whatsapp", "Hello", "--wait", "20"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert demo.returncode == 0, demo.stderr
        assert f"POST http://127.0.0.1:{port}/webhooks/whatsapp/ → 200: accepted and stored" in demo.stdout
        assert "processed: the message is in the inbox of " in demo.stdout, demo.stdout
        _read_until(proc, lines, '"POST /webhooks/whatsapp/', timeout=10)
        time.sleep(6)  # beat ticks every 2 s and the worker runs what it sends: at INFO each is a line
    finally:
        proc.send_signal(signal.SIGINT)
        lines.append(proc.stdout.read())  # the same buffered reader: communicate() would skip what it holds
        proc.wait(60)
    console = "".join(lines)
    message = Message.objects.select_related("channel", "conversation__contact").get(body="Hello")
    assert message.channel.name == "Demo whatsapp" and message.conversation.contact.name == "Demo Contact"
    rep = message.conversation.rep  # the demo team's manager works the channels too
    assert f"the message is in the inbox of {rep.full_name} (sign in as {rep.user.username})" in demo.stdout
    assert "INFO switchboard.messages message received" in console, console  # the app's own lines stay
    for chatter in ("Scheduler: Sending due task", "] received", "succeeded in", "beat: Starting"):
        assert chatter not in console, f"{chatter!r} on the console:\n{console}"
    assert proc.returncode == 0, console
