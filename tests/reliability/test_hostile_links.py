"""Dead links: an instrument that accepts the connection and hangs up at once.

Found: ``Station.reconnect`` -> pymeasure ``flush_read_buffer`` -> pyvisa-py ``clear`` looped on
``select``/``recv`` of the closed socket at 100 % CPU for ever, ignoring SIGTERM and ``abort``.
Now reconnects are bounded in wall time, the engine's bounded retries end in a pause, and an
abort or SIGTERM is answered.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from stm_andreev.drivers.lakeshore372 import LakeShore372
from stm_andreev.link_reset import LinkClosedError, drain_socket
from stm_andreev.station import Station
from stm_andreev.storage import RunReader
from tests.shared import wait_until

from .hostile_helpers import (
    PROCESS_TIMEOUT_S,
    HangUpListener,
    served_lab_servers,
    start_cli,
    tcp_station_file,
)

pytestmark = [pytest.mark.faults, pytest.mark.hostile, pytest.mark.tcp]


def test_reconnect_to_an_instrument_that_hangs_up_ends(caplog):
    """Station.reconnect on a link whose peer accepts and closes returns (bounded) and logs
    why; it used to spin for ever inside pyvisa-py's clear()."""
    with HangUpListener() as hang:
        ls = LakeShore372(LakeShore372.tcp_resource("127.0.0.1", hang.port), visa_library="@py")
        fake = SimpleNamespace(drivers={"fridge": ls})
        done = threading.Event()

        def reconnect_three_times() -> None:
            for _ in range(3):
                before = hang.accepted
                Station.reconnect(fake)
                # the listener has hung up on this attempt before the next drain
                wait_until(lambda before=before: hang.accepted > before)
            done.set()

        with caplog.at_level(logging.WARNING, logger="stm_andreev.station"):
            thread = threading.Thread(target=reconnect_three_times, daemon=True)
            thread.start()
            finished = done.wait(PROCESS_TIMEOUT_S)
        ls.adapter.close()
        assert finished, "Station.reconnect never returned (spinning on a closed socket)"
        assert hang.accepted >= 3
        assert "reconnecting fridge failed" in caplog.text


def test_drain_reports_a_closed_peer():
    import socket

    a, b = socket.socketpair()
    b.sendall(b"stale\n")
    b.close()
    with pytest.raises(LinkClosedError):
        drain_socket(a)
    a.close()


def _link_events(path) -> list[str]:
    try:
        with RunReader(path, live=True) as run:
            return [e.kind for e in run.events()]
    except Exception:  # not created yet, or being written
        return []


@pytest.mark.slow
def test_run_on_a_hanging_up_fridge_pauses_and_answers_sigterm(tmp_path, outcome):
    """`stm-andreev run` with the Lake Shore behind a listener that accepts and hangs up:
    bounded retries, a pause, and SIGTERM ends it with the file closed 'aborted'."""
    outcome.fault, outcome.instrument = "accepts the connection, then hangs up (slots taken)", \
        "fridge"
    outcome.spectra_planned = 0
    out = tmp_path / "runs"
    with served_lab_servers() as servers, HangUpListener() as hang:
        station = tcp_station_file(
            tmp_path / "station.yaml", servers,
            override={"fridge": f"TCPIP::127.0.0.1::{hang.port}::SOCKET"},
        )
        proc = start_cli("run", "quick", "--station", str(station), "--out", str(out),
                         "--no-report", "--quiet")
        try:
            deadline = time.monotonic() + PROCESS_TIMEOUT_S
            path = None
            # Bounded wait (wall time: another process's progress) for the pause.
            while time.monotonic() < deadline and proc.poll() is None:
                files = sorted(out.glob("*.h5"))
                path = files[0] if files else None
                if path is not None and "link_lost" in _link_events(path):
                    break
                time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()[0]
            accepted = hang.accepted
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    outcome.injections = accepted
    assert proc.returncode == 3, output
    assert "Traceback" not in output and "status:        aborted" in output
    with RunReader(path) as run:
        assert run.status == "aborted"
        kinds = [e.kind for e in run.events()]
    assert kinds.count("link_error") >= 2 and "link_lost" in kinds and kinds[-1] == "abort"
    outcome.happened = (
        f"{kinds.count('link_error')} link errors, each reconnect bounded (closed peer "
        "detected); paused 'link_lost'; SIGTERM closed the file 'aborted', exit 3"
    )
