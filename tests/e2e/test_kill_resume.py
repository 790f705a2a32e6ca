"""SIGKILL the run process at several points, resume each time: every spectrum exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stm_andreev.storage import RunReader

from .conftest import TINY_PLAN

PROCESS_TIMEOUT_S = 120


def start_run(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", *args, "--no-report", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def confirmed(path) -> int:
    try:
        with RunReader(path, live=True) as run:
            return run.n_spectra
    except Exception:  # not created yet, or being created
        return -1


def kill_after(proc: subprocess.Popen, out_dir, n_spectra: int):
    """Wait (bounded) until the run file holds n_spectra, then SIGKILL the process."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    path = None
    while time.monotonic() < deadline and proc.poll() is None:
        files = sorted(out_dir.glob("*.h5"))
        path = files[0] if files else path
        if path is not None and confirmed(path) >= n_spectra:
            break
        time.sleep(0.02)  # polling another process's progress, not simulated time
    assert proc.poll() is None, f"run ended before the kill:\n{proc.communicate()[0]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=PROCESS_TIMEOUT_S)
    return path


@pytest.mark.slow
def test_sigkill_and_resume_records_every_spectrum_once(tmp_path):
    plan = tmp_path / "tiny.yaml"
    plan.write_text(TINY_PLAN)
    out = tmp_path / "runs"
    path = kill_after(start_run(str(plan), "--out", str(out)), out, 1)
    for at in (3,):
        path = kill_after(start_run("--resume", str(path)), out, at)
        with RunReader(path) as run:  # the file opens cleanly after every kill
            assert len(set(run.ledger)) == len(run.ledger) >= at
    proc = start_run("--resume", str(path))
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, output
    assert "status:        finished" in output
    with RunReader(path) as run:
        assert run.status == "finished"
        assert sorted(run.ledger) == list(range(5))
        assert run.spectra()["G_S"].shape == (5, 21)
        assert np.all(np.isfinite(run.spectra()["G_S"]))
        kinds = [e.kind for e in run.events()]
        assert kinds.count("resume") == 2
