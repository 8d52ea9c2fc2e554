"""Fixtures for the example tests: system binaries (skip, or fail under CI), a private session bus, subprocesses."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
# CI sets this after installing dbus, libnotify-bin and chromium: a missing binary is then a failure, not a skip.
REQUIRE_SYSTEM = os.environ.get("NOTIFCLF_REQUIRE_SYSTEM_TESTS") == "1"


def missing(reason: str) -> NoReturn:
    """Skip the test, or fail it under NOTIFCLF_REQUIRE_SYSTEM_TESTS=1 (CI, where everything is installed)."""
    if REQUIRE_SYSTEM:
        pytest.fail(f"{reason} (NOTIFCLF_REQUIRE_SYSTEM_TESTS=1 requires it)")
    pytest.skip(reason)


def need_binary(name: str, package: str) -> str:
    """The binary's path; without it the test skips (or fails in CI) naming the Debian package to install."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not found; install it with: apt-get install --no-install-recommends {package}")
    return path


def as_if_from_a_terminal() -> None:
    """``preexec_fn`` for example processes: Ctrl-C (SIGINT) acts as in a terminal. A CI job started in the
    background of a non-interactive shell has SIGINT ignored, and children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    """A background subprocess whose stdout and stderr lines are collected as they come."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> None:
        self.popen = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      preexec_fn=as_if_from_a_terminal,
                                      text=True)
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        for name, stream in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()

    def _pump(self, name: str, stream) -> None:
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def wait_for(self, pattern: str, stream: str = "stdout", timeout: float = 120) -> str:
        """The first new line of ``stream`` that matches ``pattern``; fails with everything seen on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                name, line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append((name, line))
            if name == stream and re.search(pattern, line):
                return line
        pytest.fail(f"no {stream} line matching {pattern!r} (exit code {self.popen.poll()}); seen: {self.seen}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait()


@pytest.fixture(name="need_binary")
def need_binary_fixture():
    """``need_binary(name, package)`` inside a test."""
    return need_binary


@pytest.fixture(name="terminal_sigint")
def terminal_sigint_fixture():
    """``as_if_from_a_terminal``, the ``preexec_fn`` for a test's own example processes."""
    return as_if_from_a_terminal


@pytest.fixture(name="missing")
def missing_fixture():
    """``missing(reason)`` inside a test: skip, or fail in CI."""
    return missing


@pytest.fixture
def start():
    """Start background subprocesses (cwd: the repository) that are stopped at the end of the test."""
    procs: list[Proc] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(args, env=env)
        procs.append(proc)
        return proc

    yield _start
    for proc in reversed(procs):
        proc.stop()


@pytest.fixture
def session_bus() -> Iterator[dict[str, str]]:
    """A private ``dbus-daemon --session``; yields an environment whose DBUS_SESSION_BUS_ADDRESS points at it."""
    daemon = need_binary("dbus-daemon", "dbus")
    proc = subprocess.Popen([daemon, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        pytest.fail("dbus-daemon --session printed no address")
    yield {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
    proc.terminate()
    proc.wait(timeout=10)
