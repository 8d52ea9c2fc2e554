"""examples/desktop_listener.py on a real private session bus (dbus-daemon) with real notify-send notifications."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

LISTENER = "examples/desktop_listener.py"


@pytest.fixture
def notify_send(need_binary, session_bus):
    """Send a real notification with Debian's notify-send on the test's session bus."""
    binary = need_binary("notify-send", "libnotify-bin")

    def send(*args: str) -> None:
        proc = subprocess.run([binary, *args], env=session_bus, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr

    return send


def test_server_then_monitor_mode_classify_real_notify_send(session_bus, notify_send, start, tiny_qwen2, tmp_path):
    out = tmp_path / "notifications.jsonl"
    server = start(sys.executable, LISTENER, "--model", str(tiny_qwen2), "--jsonl", str(out), env=session_bus)
    server.wait_for("listening as the notification server", stream="stderr")
    # No server ran, so the listener answers Notify itself: notify-send succeeds.
    notify_send("-a", "Slack", "#incidents", "PROD <b>DOWN</b> &amp; payments 500s")
    line = server.wait_for(r"^Slack \| #incidents -> ")
    assert " p" in line and "folder 0." in line

    # Now a server owns the name: a second listener (auto mode) only watches, and both see the next notification.
    watcher = start(sys.executable, LISTENER, "--model", str(tiny_qwen2), env=session_bus)
    watcher.wait_for("listening as a monitor", stream="stderr")
    notify_send("-a", "Chase", "-c", "email.arrived", "-u", "critical", "Payment received", "You got $250")
    watcher.wait_for(r"^Chase \| Payment received -> ")
    server.wait_for(r"^Chase \| Payment received -> ")
    assert server.stop() == 0 and watcher.stop() == 0

    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["app"], r["summary"], r["body"]) for r in records] == [
        ("Slack", "#incidents", "PROD DOWN & payments 500s"), ("Chase", "Payment received", "You got $250")]
    for r in records:
        assert r["folder"] in {"Work", "Personal", "Promotions", "Alerts"} and r["priority"] in (1, 2, 3)
        assert 0 < r["folder_confidence"] <= 1 and 0 < r["priority_confidence"] <= 1


def test_forced_server_mode_refuses_when_a_server_runs(session_bus, start, tiny_qwen2):
    first = start(sys.executable, LISTENER, "--model", str(tiny_qwen2), "--mode", "server", env=session_bus)
    first.wait_for("listening as the notification server", stream="stderr")
    second = subprocess.run([sys.executable, LISTENER, "--model", str(tiny_qwen2), "--mode", "server"], env=session_bus,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "another notification server runs: use --mode monitor" in second.stderr


def test_no_session_bus_is_a_clear_error(tiny_qwen2):
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    proc = subprocess.run([sys.executable, LISTENER, "--model", str(tiny_qwen2)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "cannot reach the session bus" in proc.stderr


@pytest.mark.real_model
def test_default_model_sorts_a_real_notification(session_bus, notify_send, start, real_base_gguf):
    listener = start(sys.executable, LISTENER, env=session_bus)
    listener.wait_for("listening as", stream="stderr", timeout=300)
    notify_send("-a", "Slack", "#incidents", "PROD DOWN - payments returning 500s")
    assert "-> Work p" in listener.wait_for(r"^Slack \| #incidents -> ", timeout=120)
