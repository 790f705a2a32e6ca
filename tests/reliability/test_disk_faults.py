"""The output disk: unwritable before the run, full during it."""

from __future__ import annotations

import errno
import subprocess
import sys

import numpy as np
import pytest

from stm_andreev.storage import RunReader, RunWriter

from .conftest import N_POINTS, assert_complete_and_plausible, dry_run

pytestmark = pytest.mark.faults

CLI_TIMEOUT_S = 120


@pytest.mark.parametrize(
    "where", ["a file in the way", "under /proc"], ids=["not-a-directory", "proc"]
)
def test_unwritable_output_is_refused_before_start(tmp_path, outcome, where):
    """``stm-andreev run --out DIR`` with DIR unusable: a one-line error, exit 2, no traceback,
    and no instrument contacted (the station is built after the output is checked)."""
    if where == "a file in the way":
        blocker = tmp_path / "runs"
        blocker.write_text("not a directory")
        out = blocker / "today"
    else:
        out = "/proc/stm-andreev-unwritable"  # procfs refuses mkdir even for root
    outcome.fault, outcome.instrument = f"output directory unwritable ({where})", "disk"
    outcome.spectra_planned = 0
    proc = subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "run", "quick", "--out", str(out),
         "--no-report", "--quiet"],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    outcome.injections = 1
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(out) in proc.stderr and "error:" in proc.stderr
    reason = proc.stderr.strip().splitlines()[-1].replace(str(out), "DIR")
    outcome.happened = f"refused before any instrument, exit 2: '{reason}'"


class RecordingNotifier:
    """Stands in for stm_andreev.engine.notify.Notifier: keeps what would have been sent."""

    kinds = {"storage_error", "pause", "finish"}

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, kind: str, message: str, summary) -> None:
        self.sent.append((kind, message))


@pytest.fixture
def full_disk_at(monkeypatch):
    """Make the run file's disk 'fill up' when the spectrum of a given point is written."""

    def arm(point_index: int, stage: str = "row_written") -> dict:
        state = {"hits": 0}

        def hook(at_stage: str, index: int) -> None:
            if at_stage == stage and index == point_index and state["hits"] == 0:
                state["hits"] += 1
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(RunWriter, "fault_hook", staticmethod(hook))
        return state

    return arm


def test_disk_full_during_run_pauses_safely_and_keeps_data(
    tmp_path, reference, outcome, full_disk_at
):
    state = full_disk_at(2)
    seen: list[dict] = []
    holder: dict = {}

    def while_paused() -> None:
        lab = holder["station"].lab
        seen.append({"feedback": lab.feedback_on, "bias_V": lab.bias_V})
        # what was written before the failure is on disk and readable while paused
        with RunReader(holder["path"]) as stored:
            seen[-1]["ledger"] = sorted(int(p) for p in stored.ledger)

    notifier = RecordingNotifier()
    run = dry_run(tmp_path, [], outcome=outcome, on_pause=while_paused, notifier=notifier,
                  prepare=lambda s, w: holder.update(station=s, path=w.path))
    outcome.fault, outcome.instrument = "disk full (ENOSPC) while writing a spectrum", "disk"
    outcome.injections = state["hits"]
    assert state["hits"] == 1
    assert run.error is None, run.error
    assert seen and seen[0]["feedback"] is True and seen[0]["bias_V"] == pytest.approx(-3e-3)
    assert seen[0]["ledger"] == [0, 1]
    assert run.status == "finished"
    kinds = run.event_kinds
    assert "storage_error" in kinds and "pause" in kinds, run.events
    # the operator is told at once (the file cannot carry the news until it is re-opened)
    assert [k for k, _ in notifier.sent][:2] == ["storage_error", "pause"]
    assert "disk full" in notifier.sent[0][1]
    assert_complete_and_plausible(run, reference)
    assert len(run.ledger) == N_POINTS and np.all(np.isfinite(run.spectra["G_S"]))
    outcome.happened = ("storage error logged, instruments to the safe state, run paused with "
                        "spectra 0-1 on disk; on resume the file was re-opened and the held "
                        "spectrum stored")


def test_abort_while_paused_for_a_full_disk_closes_the_file_aborted(
    tmp_path, outcome, full_disk_at
):
    """The operator gives up instead of freeing space: the file is re-opened just to record
    "aborted", keeps the confirmed spectra, and resumes later to finish the plan."""
    state = full_disk_at(1)
    run = dry_run(tmp_path, [], outcome=outcome, answer="abort")
    outcome.fault, outcome.instrument = "disk full, operator aborts while paused", "disk"
    assert state["hits"] == 1
    assert run.status == "aborted", run.events
    assert run.ledger == [0]
    resumed = RunWriter.resume(run.path)
    assert resumed.finished_points == {0} and resumed.rows_discarded == 0
    resumed.close("aborted")
    outcome.injections = state["hits"]
    outcome.spectra_planned = 1  # only point 0 was measured before the abort
    outcome.spectra_stored = len(run.ledger)
    outcome.happened = "paused on the storage error; abort closed the file 'aborted', resumable"


# ------------------------------------------------------------------ hostile: real full disks
@pytest.fixture
def h5py_disk_full(monkeypatch):
    """h5py reports a full disk on flush as RuntimeError (errno 28 in the text), not OSError."""

    def arm(point_index: int) -> dict:
        state = {"hits": 0}

        def hook(at_stage: str, index: int) -> None:
            if at_stage == "row_written" and index == point_index and state["hits"] == 0:
                state["hits"] += 1
                raise RuntimeError(
                    "Unable to synchronously flush file (file write failed: errno = 28, "
                    "error message = 'No space left on device')"
                )

        monkeypatch.setattr(RunWriter, "fault_hook", staticmethod(hook))
        return state

    return arm


@pytest.mark.hostile
def test_h5py_runtime_error_on_a_full_disk_pauses_and_resumes(
    tmp_path, reference, outcome, h5py_disk_full
):
    """The pause used to run only for OSError: h5py's RuntimeError(errno 28) failed the run."""
    state = h5py_disk_full(2)
    run = dry_run(tmp_path, [], outcome=outcome)
    outcome.fault, outcome.instrument = "disk full reported by h5py as RuntimeError", "disk"
    outcome.injections = state["hits"]
    assert run.error is None, run.error
    assert run.status == "finished" and "storage_error" in run.event_kinds
    assert_complete_and_plausible(run, reference)
    outcome.happened = "taken as disk full: paused holding the spectrum; resumed, plan finished"


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 16 MB tmpfs (root only); skipped where it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _child(kind: str, where) -> dict:
    import json
    from pathlib import Path

    child = Path(__file__).with_name("full_disk_child.py")
    proc = subprocess.run([sys.executable, str(child), kind, str(where)],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-3000:]}"
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "stderr": proc.stderr}


@pytest.mark.hostile
@pytest.mark.slow
def test_real_full_disk_mid_run_pauses_and_resume_completes(small_tmpfs, outcome):
    """A 16 MB tmpfs filled after spectrum 1: paused holding spectrum 2 (no crash, no SIGSEGV),
    space freed while paused, the run resumes and finishes every spectrum."""
    outcome.fault, outcome.instrument = "real full disk (16 MB tmpfs) mid-run", "disk"
    result = _child("midrun", small_tmpfs)
    outcome.injections = result["filled"]
    outcome.spectra_stored = len(set(result["ledger"]))
    assert result["error"] is None, result
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]
    assert result["filled"] == 1 and result["freed"] >= 1
    assert result["status"] == "finished" and sorted(result["ledger"]) == list(range(N_POINTS))
    assert "storage_error" in result["events"] and "pause" in result["events"]
    outcome.happened = ("refused before touching the file (free space checked first), paused "
                        "holding the spectrum; space freed, resumed, plan finished; no crash")


@pytest.mark.hostile
def test_disk_filling_while_a_run_file_is_created_leaves_nothing(small_tmpfs, outcome):
    """The disk fills while the new file is laid out: a one-line disk-full error naming the
    file, no half-made file, no h5py deallocation traceback."""
    outcome.fault, outcome.instrument = "disk fills while the run file is created", "disk"
    outcome.spectra_planned = 0
    result = _child("create", small_tmpfs)
    outcome.injections = 1
    assert result["message"] and "disk full" in result["message"], result
    assert "run.h5" in result["message"]
    assert result["left"] == [], result
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]
    outcome.happened = f"refused: '{result['message'].split(':', 1)[0]}: ... disk full'; " \
                       "no half-made file left"
