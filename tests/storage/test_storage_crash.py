"""SIGKILL a writer process at several points of an append, resume, finish: every point once."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from stm_andreev.storage import RunReader, RunWriter
from stm_andreev.storage.superblock import superblock_flags

from .storage_helpers import record_for, spectrum_for
from .subprocess_helpers import TIMEOUT_S, read_line, start_module

pytestmark = pytest.mark.faults

CHILD = "tests.storage.crash_writer_child"


def _start(path: Path, mode: str, n_planned: int, *extra: str) -> subprocess.Popen[str]:
    return start_module(CHILD, str(path), mode, str(n_planned), *extra)


def _run_to_death(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL, f"child was not killed: {proc.returncode} {err}"
    return out.split()


def _resume_and_finish(path: Path, n_planned: int) -> None:
    proc = _start(path, "resume", n_planned)
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    assert out.strip().endswith("closed")


def _assert_every_point_exactly_once(path: Path, n_planned: int) -> None:
    assert superblock_flags(path) == 0
    with h5py.File(path, "r") as f:  # a plain open: the file is clean
        assert f["entry/status"][()].decode() == "finished"
    with RunReader(path) as reader:
        ledger = reader.ledger
        assert sorted(ledger) == list(range(n_planned))
        assert reader.n_spectra == n_planned
        table = reader.table()
        np.testing.assert_array_equal(table["point_index"], ledger)
        spectra = reader.spectra()
        for row, point in enumerate(ledger):
            expected = spectrum_for(int(point))
            np.testing.assert_array_equal(spectra["G_S"][row], expected["G_S"])
            np.testing.assert_array_equal(spectra["X_V"][row], expected["X_V"])
            assert table["time_s"][row] == record_for(int(point))["time_s"]
        events = reader.events()
        assert {e.kind for e in events} <= {"measure"}
        assert {e.point_index for e in events} == set(range(n_planned))


def _crashed_state(path: Path) -> set[int]:
    """What a reader sees in the killed writer's file, before any repair."""
    assert superblock_flags(path) != 0  # left marked open for writing
    with RunReader(path) as reader:
        ledger = list(reader.ledger)
        assert len(set(ledger)) == len(ledger)
        for row, point in enumerate(ledger):
            np.testing.assert_array_equal(reader.spectrum(row).G_S, spectrum_for(point)["G_S"])
        return set(ledger)


@pytest.mark.parametrize(
    ("extra", "expected_confirmed", "expected_discarded"),
    [
        (["--kill-at-start"], set(), {0}),
        (["--kill-after", "3"], {0, 1, 2}, {0}),
        (["--hook", "row_written:4"], {0, 1, 2, 3}, {1}),
        (["--hook", "row_written:0"], set(), {1}),
        (["--hook", "ledger_written:2"], None, {0, 1}),
    ],
    ids=["before-first", "between-appends", "row-not-ledger", "first-row", "ledger-unflushed"],
)
def test_sigkill_at_a_known_position_then_resume(tmp_path, extra, expected_confirmed,
                                                 expected_discarded):
    path = tmp_path / "run.h5"
    n_planned = 7
    _run_to_death(_start(path, "create", n_planned, *extra))
    confirmed = _crashed_state(path)
    if expected_confirmed is not None:
        assert confirmed == expected_confirmed
    else:  # killed before the flush that carries the ledger entry: either outcome is safe
        assert confirmed in ({0, 1}, {0, 1, 2})

    writer = RunWriter.resume(path)
    assert writer.recovered_unclean
    assert writer.previous_status == "running"
    assert writer.finished_points == confirmed
    assert writer.rows_discarded in expected_discarded
    writer.close("paused")
    _resume_and_finish(path, n_planned)
    _assert_every_point_exactly_once(path, n_planned)


def test_repeated_kills_from_outside_at_arbitrary_moments(tmp_path):
    """The parent kills the writer while it streams appends; three crash/resume cycles."""
    path = tmp_path / "run.h5"
    n_planned = 120
    mode = "create"
    for kill_after_done in (5, 17, 9):
        proc = _start(path, mode, n_planned)
        assert read_line(proc) == "ready"
        for _ in range(kill_after_done):
            assert read_line(proc).startswith("done")
        proc.send_signal(signal.SIGKILL)  # lands anywhere inside a following append
        proc.communicate(timeout=TIMEOUT_S)
        assert proc.returncode == -signal.SIGKILL
        _crashed_state(path)
        mode = "resume"
    _resume_and_finish(path, n_planned)
    _assert_every_point_exactly_once(path, n_planned)


def test_crashes_during_and_right_after_resume(tmp_path):
    """Kill, resume and kill again before a single append, then mid-append; finish."""
    path = tmp_path / "run.h5"
    n_planned = 9
    _run_to_death(_start(path, "create", n_planned, "--kill-after", "2"))
    assert _crashed_state(path) == {0, 1}
    _run_to_death(_start(path, "resume", n_planned, "--kill-at-start"))
    assert _crashed_state(path) == {0, 1}
    _run_to_death(_start(path, "resume", n_planned, "--hook", "row_written:5"))
    assert _crashed_state(path) == {0, 1, 2, 3, 4}
    _run_to_death(_start(path, "resume", n_planned, "--hook", "ledger_written:6"))
    assert _crashed_state(path) in ({0, 1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 5, 6})
    _resume_and_finish(path, n_planned)
    _assert_every_point_exactly_once(path, n_planned)
