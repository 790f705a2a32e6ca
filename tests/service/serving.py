"""Running ``stm-andreev serve`` as a real process for the end-to-end and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "end-to-end-token-0123456789abcdef"
#: Bound on waits for processes (wall s): imports alone take seconds on a loaded machine.
PROCESS_WAIT_S = 120.0

SWEEP_PLAN = """
name: {name}
description: setpoints at base temperature (service tests)
steps:
  - kind: setpoint_sweep
    temperature_K: 0.065
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: {n}
    bias_start_V: -1.5e-3
    bias_stop_V: 1.5e-3
    n_bias: {n_bias}
    modulation_Vrms: 20.0e-6
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""


def sweep_plan(name: str, n: int = 3, n_bias: int = 41) -> str:
    return SWEEP_PLAN.format(name=name, n=n, n_bias=n_bias)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One ``stm-andreev serve`` process on a free loopback port (its own session)."""

    def __init__(self, tmp: Path, *extra: str, host: str = "127.0.0.1",
                 env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.host = host
        self.env = env
        self.token_file = tmp / "token"
        self.token_file.write_text(TOKEN)
        self.queue = tmp / "queue.json"
        self.runs = tmp / "runs"
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        self.port = free_port()
        cmd = [sys.executable, "-m", "stm_andreev.cli", "serve", "--queue", str(self.queue),
               "--runs", str(self.runs), "--bind", f"{self.host}:{self.port}",
               "--token-file", str(self.token_file), "--no-report", *self.extra]
        log = open(self.tmp / f"serve-{self.port}.log", "wb")
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=None if self.env is None else {**os.environ,
                                                                           **self.env})
        log.close()
        deadline = time.monotonic() + PROCESS_WAIT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {self.log()}")
            try:
                # With the token: reads may be closed (a bind beyond loopback).
                httpx.get(self.url + "/api/status", headers=self.auth,
                          timeout=2).raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not answer: {self.log()}") from None
                time.sleep(0.1)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.tmp.glob("serve-*.log"))

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def get(self, path: str):
        r = httpx.get(self.url + path, headers=self.auth, timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, json=None):
        r = httpx.post(self.url + path, headers=self.auth, json=json, timeout=30)
        assert r.status_code < 300, r.text
        return r.json()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def wait_for(self, condition, what: str, timeout_s: float = PROCESS_WAIT_S,
                 poll_s: float = 0.1):
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.get("/api/status")
            if condition(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last status {status}\n"
                                     f"{self.log()}")
            time.sleep(poll_s)


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def start_gui(queue: Path, runs: Path, log_path: Path) -> subprocess.Popen:
    """A real ``stm-andreev gui`` on ``queue`` (offscreen Qt, its own session): with a service
    owning the queue it is that service's client."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "stm_andreev.cli", "gui", "--queue", str(queue),
             "--runs", str(runs)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)


def open_files(pid: int) -> set[str]:
    """The files process ``pid`` has open (Linux /proc; empty once it is gone)."""
    found = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return found
    for fd in fds:
        try:
            found.add(os.readlink(fd))
        except OSError:  # closed meanwhile
            pass
    return found
