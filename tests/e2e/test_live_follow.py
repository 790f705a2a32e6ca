"""A reader in another process follows a running ``stm-andreev run`` live through SWMR."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
