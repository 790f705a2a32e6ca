"""Pieces of the hostile-input tests: a listener that accepts and hangs up, a station file
served over loopback TCP with one instrument pointed elsewhere, and the `stm-andreev` CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from stm_andreev.clock import ScaledClock
from stm_andreev.config import load_station
from stm_andreev.config.yaml_file import parse_yaml

#: Bound on every wait for another process (wall seconds): generous, a loaded machine is slow.
PROCESS_TIMEOUT_S = 120


class HangUpListener:
    """Loopback listener that accepts every connection and closes it at once (an instrument
    whose client slots are all taken)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()
            self.accepted += 1  # counted once hung up on

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self) -> HangUpListener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def served_lab_servers(speedup: float = 100.0):
    """SimulatedStationServers of configs/simulated-tcp.yaml on ephemeral ports, on a scaled
    clock (not started)."""
    from stm_andreev.simulators.transports.station import (
        SimulatedStationServers,
        default_instruments,
        make_lab,
    )

    lab = make_lab("InO-2", clock=ScaledClock(speedup), seed=1, modulation_divider=1000)
    return SimulatedStationServers(lab, default_instruments(ephemeral=True), seed=1)


def tcp_station_file(path: Path, servers, *, speedup: float = 100.0,
                     override: dict[str, str] | None = None) -> Path:
    """configs/simulated-tcp.yaml pointed at ``servers``; ``override`` maps an instrument name to
    another address (e.g. a :class:`HangUpListener`)."""
    config = load_station("simulated-tcp")
    data = servers.point_station_at(parse_yaml(config.source_text, "simulated-tcp.yaml").data)
    for name, inst in data["instruments"].items():
        if override and name in override:
            inst["address"] = override[name]
    data["simulation"]["speedup"] = speedup
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_cli(*args: str, timeout: float = PROCESS_TIMEOUT_S, stdin: str | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", *args],
        capture_output=True, text=True, timeout=timeout, input=stdin,
    )
