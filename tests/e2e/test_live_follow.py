"""A reader in another process follows a running ``stm-andreev run`` live through SWMR."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from stm_andreev.storage import RunReader

PROCESS_TIMEOUT_S = 120

PLAN = """
name: follow
kind: setpoint_sweep
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 16
n_bias: 81
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
"""

# The follower: wait for the run file, open it once in SWMR mode and refresh it until the run
# is over, recording every count it sees; print them as JSON. Every wait is bounded.
FOLLOWER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from stm_andreev.storage import RunReader

    out, deadline = Path(sys.argv[1]), time.monotonic() + float(sys.argv[2])
    path = None
    while path is None and time.monotonic() < deadline:
        files = sorted(out.glob("*.h5")) if out.exists() else []
        path = files[0] if files else None
        time.sleep(0.01)
    reader = None
    while reader is None and time.monotonic() < deadline:
        try:
            reader = RunReader(path, live=True)
        except Exception:  # the writer is still laying the file out
            time.sleep(0.01)
    seen, statuses, shapes = [], [], []
    with reader:
        while time.monotonic() < deadline:
            # Status first, then the rows: once the status says the run is over, the refresh
            # after it holds every spectrum.
            status = reader.status
            n = reader.refresh()
            seen.append(n)
            statuses.append(status)
            if n:
                shapes.append(list(reader.spectra()["G_S"].shape))
            if status not in ("running", "paused"):
                break
            time.sleep(0.01)
    print(json.dumps({"path": str(path), "seen": seen, "statuses": statuses,
                      "shapes": shapes[-1:]}))
    """
)


@pytest.mark.slow
def test_reader_process_follows_a_running_run_to_the_end(tmp_path):
    plan = tmp_path / "follow.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "runs"
    follower = subprocess.Popen(
        [sys.executable, "-c", FOLLOWER, str(out), str(PROCESS_TIMEOUT_S)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
         "--no-report", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run_output, _ = run.communicate(timeout=PROCESS_TIMEOUT_S)
        followed, errors = follower.communicate(timeout=PROCESS_TIMEOUT_S)
    finally:
        for proc in (run, follower):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert run.returncode == 0, run_output
    assert follower.returncode == 0, errors
    report = json.loads(followed)
    seen = report["seen"]
    # The count only grows, from before the first spectrum to the last one, and the reader saw
    # it at several stages in between (it was following, not reading a finished file).
    assert seen == sorted(seen)
    assert seen[0] < 16 and seen[-1] == 16
    assert len(set(seen)) >= 4
    assert report["statuses"][0] == "running" and report["statuses"][-1] == "finished"
    assert report["shapes"] == [[16, 81]]
    with RunReader(report["path"]) as done:
        assert done.n_spectra == 16 and done.status == "finished"


# Twelve spectra whose setpoints span three decades: every row differs from row 0 (the
# GUI once drew row 0 under the header of row 45).
TWO_VIEW_PLAN = """
name: two-views
kind: setpoint_sweep
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 12
n_bias: 61
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
"""


def test_two_followers_in_one_process_see_every_row_as_the_finished_file_has_it(tmp_path):
    """The GUI's progress panel (poll_status) and live spectra (poll) follow one run file in
    one process; with a third follower reading all at once. Every row each one read while
    the run was going must equal that row of the finished file."""
    from stm_andreev.gui.runfile import FINAL_STATUSES, RunFollower
    from stm_andreev.service.launcher import find_run_file

    plan = tmp_path / "two-views.yaml"
    plan.write_text(TWO_VIEW_PLAN)
    out = tmp_path / "runs"
    run = subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
         "--no-report", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    followers: list[RunFollower] = []
    read: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {"rows": {}, "bulk": {}}
    polls_with_rows = 0
    counts: list[int] = []
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if not followers:
                path = find_run_file(out) if out.is_dir() else None
                if path is None:
                    time.sleep(0.01)
                    continue
                followers = [RunFollower(path) for _ in range(3)]
            progress, rows, bulk = followers
            n = progress.poll_status()  # what the run-control panel does
            counts.append(n or 0)
            for name, follower, max_rows in (("rows", rows, 2), ("bulk", bulk, None)):
                block = follower.poll(max_rows=max_rows, read_events=name == "bulk")
                if block is None:
                    continue
                polls_with_rows += name == "rows"
                for j in range(block.n):
                    read[name][block.first + j] = (block.bias_V[j], block.G_G0[j])
            done = run.poll() is not None and progress.status in FINAL_STATUSES
            if done and rows.rows_seen == bulk.rows_seen == progress.rows_seen:
                break
            time.sleep(0.005)
        run_output = run.communicate(timeout=PROCESS_TIMEOUT_S)[0]
    finally:
        for follower in followers:
            follower.close()
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
    assert run.returncode == 0, run_output
    # The followers were there while the run was going, not only after it ended.
    assert len(set(counts)) >= 4 and polls_with_rows >= 4, (counts, polls_with_rows)
    with RunReader(followers[0].path) as done:
        assert done.n_spectra == 12 and done.status == "finished"
        for name, rows_read in read.items():
            assert sorted(rows_read) == list(range(12)), name
            for i, (bias, g) in rows_read.items():
                spectrum = done.spectrum(i)
                assert np.array_equal(bias, spectrum.bias_V), (name, i)
                assert np.array_equal(g, spectrum.G_G0), f"{name} follower: row {i} differs"
        # Rows differ from each other (the defect showed row 0 everywhere).
        g_all = done.spectra()["G_G0"]
        assert not np.allclose(g_all[0], g_all[-1])
