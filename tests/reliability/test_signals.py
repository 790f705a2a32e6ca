"""Stopping the run process: SIGTERM, Ctrl-C (SIGINT) and SIGKILL at random moments.

SIGTERM and SIGINT must leave the instruments in the safe state and the file closed with
status "aborted"; SIGKILL leaves no chance to clean up, so only the file matters: it must open
cleanly after every kill and, resumed each time, end with every spectrum exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.storage import RunReader

from .conftest import build_run

pytestmark = pytest.mark.faults

PROCESS_TIMEOUT_S = 120
KILLS = 20
KILL_SEED = 20261124
# Eight spectra at base temperature with 11 bias points each: short enough that 20 kills and
# resumes take about a minute, long enough that the kills land all over the plan.
KILL_PLAN = """
name: kill-campaign
steps:
  - kind: setpoint_sweep
    label: setpoints
    temperature_K: 0.065
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 8
    n_bias: 11
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""
KILL_POINTS = 8
KILL_BIAS = 11
KILL_LAUNCHER = Path(__file__).with_name("kill_launcher.py")


# --------------------------------------------------------------------------- in process
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_aborts_into_the_safe_state(tmp_path, outcome, signum):
    """The signal handlers of a real run; the signal arrives right after spectrum 1 is stored,
    while the next one is being prepared."""
    station, points, writer = build_run(tmp_path)
    control = RunControl(writer.path)
    sent = {"n": 0}

    def send(point, spectrum) -> None:
        if point.index == 1:
            sent["n"] += 1
            os.kill(os.getpid(), signum)

    control.install_signal_handlers()
    try:
        summary = RunEngine(station, points, writer, control=control, on_spectrum=send).run()
    finally:
        control.restore_signal_handlers()
    lab = station.lab
    name = signal.Signals(signum).name
    outcome.fault, outcome.instrument = f"{name} to the run (in process)", "process"
    outcome.injections = sent["n"]
    outcome.spectra_planned = 2  # the plan was cut short on purpose
    assert summary.status == "aborted"
    assert lab.feedback_on and lab.bias_V == pytest.approx(-3e-3)
    assert lab.fridge.heater_range == 0  # the station's safe heater range
    station.close()
    with RunReader(writer.path) as run:
        assert run.status == "aborted"
        assert sorted(int(p) for p in run.ledger) == [0, 1]
        outcome.spectra_stored = len(run.ledger)
        kinds = [e.kind for e in run.events()]
    assert kinds[-1] == "abort"
    outcome.happened = ("aborted at the next check point: feedback on, bias at V_sp, heater "
                        "at its safe range, file closed 'aborted'")


# --------------------------------------------------------------------------- subprocesses
def start_run(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", *args, "--no-report", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def confirmed(path: Path | None) -> int:
    if path is None:
        return -1
    try:
        with RunReader(path, live=True) as run:
            return run.n_spectra
    except Exception:  # not created yet, or being created
        return -1


def run_file(out_dir: Path) -> Path | None:
    files = sorted(out_dir.glob("*.h5"))
    return files[0] if files else None


def wait_for(proc: subprocess.Popen, out_dir: Path, n_spectra: int) -> Path | None:
    """Wait (bounded, wall time: another process's progress) until the run file holds
    ``n_spectra`` confirmed spectra or the process ends; return the run file."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    path = run_file(out_dir)
    while time.monotonic() < deadline and proc.poll() is None:
        path = path or run_file(out_dir)
        if n_spectra <= 0 or confirmed(path) >= n_spectra:
            break
        time.sleep(0.02)  # polling the run process (wall time is its time), bounded by deadline
    return path or run_file(out_dir)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_the_cli_closes_the_file_aborted_and_it_resumes(tmp_path, outcome, signum):
    plan = tmp_path / "kill.yaml"
    plan.write_text(KILL_PLAN)
    out = tmp_path / "runs"
    proc = start_run(str(plan), "--out", str(out))
    path = wait_for(proc, out, 2)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    name = signal.Signals(signum).name
    outcome.fault, outcome.instrument = f"{name} to `stm-andreev run`", "process"
    outcome.injections = 1
    outcome.spectra_planned = KILL_POINTS
    assert proc.returncode == 3, output
    assert "status:        aborted" in output and "Traceback" not in output
    with RunReader(path) as run:
        assert run.status == "aborted"
        before = sorted(int(p) for p in run.ledger)
        assert before == list(range(len(before))) and len(before) >= 2
        assert [e.kind for e in run.events()][-1] == "abort"
    proc = start_run("--resume", str(path))
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, output
    with RunReader(path) as run:
        assert run.status == "finished"
        assert sorted(int(p) for p in run.ledger) == list(range(KILL_POINTS))
        outcome.spectra_stored = len(set(int(p) for p in run.ledger))
    outcome.happened = (f"exit code 3, file closed 'aborted' after {len(before)} spectra; "
                        "--resume finished the plan")


def start_killed_run(moment: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(KILL_LAUNCHER), moment, "run", *args, "--no-report", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_moments(rng: random.Random) -> list[tuple[int, str, int]]:
    """Seeded kill plan: (spectrum index, moment kind, n-th occurrence within that spectrum).

    The spectra to die in are drawn over the whole plan and sorted, so the campaign walks
    through it; the moment is mid-sweep (the n-th lock-in reading), between the spectrum's row
    and its ledger entry, between the ledger entry and the flush, or while logging the
    resume/temperature events at start-up.
    """
    plan = []
    for spectrum in sorted(rng.randrange(KILL_POINTS) for _ in range(KILLS)):
        kind = rng.choice(("snap", "snap", "row_written", "ledger_written", "event"))
        nth = rng.randint(1, KILL_BIAS) if kind == "snap" else rng.randint(1, 2)
        plan.append((spectrum, kind, nth))
    return plan


def launcher_moment(spectrum: int, kind: str, nth: int, done: int) -> str:
    """The launcher's MOMENT:N for dying in ``spectrum`` when ``done`` are already stored."""
    ahead = max(spectrum - done, 0)  # spectra this process completes before it dies
    if kind == "snap":
        return f"snap:{ahead * KILL_BIAS + nth}"
    if kind == "event":
        return f"event:{nth}"
    return f"{kind}:{ahead + 1}"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path, outcome):
    """20 SIGKILLs at seeded random moments of the plan (mid-sweep, between a spectrum's row
    and its ledger entry, between the ledger entry and the flush, while logging an event),
    resuming each time; the file must open cleanly after every kill."""
    rng = random.Random(KILL_SEED)
    plan = tmp_path / "kill.yaml"
    plan.write_text(KILL_PLAN)
    out = tmp_path / "runs"
    path: Path | None = None
    outcome.fault, outcome.instrument = "SIGKILL at random moments, resume each time", "process"
    outcome.spectra_planned = KILL_POINTS
    moments, progress, done = [], [], 0
    for spectrum, kind, nth in kill_moments(rng):
        moment = launcher_moment(spectrum, kind, nth, done)
        args = ("--resume", str(path)) if path else (str(plan), "--out", str(out))
        proc = start_killed_run(moment, *args)
        output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
        assert proc.returncode == -signal.SIGKILL, f"{moment}: not killed\n{output}"
        moments.append(moment)
        path = path or run_file(out)
        if path is not None:
            with RunReader(path) as run:  # opens cleanly after every kill
                ledger = [int(p) for p in run.ledger]
                assert len(set(ledger)) == len(ledger)
                assert sorted(ledger) == list(range(len(ledger)))
                assert np.all(np.isfinite(run.spectra()["G_S"]))
            done = len(ledger)
            progress.append(done)
    outcome.injections = len(moments)
    assert path is not None and progress[-1] < KILL_POINTS
    proc = start_run("--resume", str(path))
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, output
    with RunReader(path) as run:
        assert run.status == "finished"
        ledger = [int(p) for p in run.ledger]
        assert sorted(ledger) == list(range(KILL_POINTS))  # every spectrum exactly once
        assert run.spectra()["G_S"].shape == (KILL_POINTS, KILL_BIAS)
        assert np.all(np.isfinite(run.spectra()["G_S"]))
        outcome.spectra_stored = len(set(ledger))
    outcome.extra["kill_moments"] = moments
    outcome.extra["confirmed_after_each_kill"] = progress
    outcome.happened = (f"{len(moments)} kills (mid-sweep, row/ledger, events); file opened "
                        "cleanly after each; every spectrum exactly once at the end")


def test_a_signal_landing_inside_request_does_not_deadlock():
    """The handlers call request() on the main thread, which may be inside request() already."""
    import threading

    control = RunControl(None)
    done = threading.Event()

    def main_thread_interrupted_inside_request() -> None:
        with control._lock:  # the main thread is inside request() when the signal lands
            control.request("abort")  # ... and the handler runs there
        done.set()

    worker = threading.Thread(target=main_thread_interrupted_inside_request, daemon=True)
    worker.start()
    assert done.wait(timeout=10), "request() deadlocked when re-entered from a signal handler"
    assert control.abort_requested
