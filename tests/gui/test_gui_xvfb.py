"""The GUI on a real X server (Xvfb, Qt's xcb platform), not only offscreen: it follows a
live ``stm-andreev run`` and the curve it draws is the row its header names.

Skipped only where Xvfb is not installed and CI is not set (CI installs it: .ci/run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stm_andreev.service.launcher import find_run_file

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120.0

PLAN = """
name: xvfb-live
kind: setpoint_sweep
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 400  # far longer than the test: it is stopped once the picture is taken
n_bias: 101
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
"""


def test_gui_on_xvfb_follows_a_live_run_and_draws_the_row_it_names(tmp_path, xvfb_display):
    plan = tmp_path / "xvfb-live.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "runs"
    run = subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
         "--no-report", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while (not out.is_dir() or find_run_file(out) is None) and time.monotonic() < deadline:
            time.sleep(0.05)
        run_file = find_run_file(out)
        assert run_file is not None, "the run never created its file"
        env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
        png = tmp_path / "live.png"
        gui = subprocess.run(
            [sys.executable, "-m", "tests.gui.xvfb_live_child", str(run_file), str(png), "8"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
        assert gui.returncode == 0, gui.stderr[-2000:]
        report = json.loads(gui.stdout.strip().splitlines()[-1])
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
    assert report["platform"] == "xcb"
    assert report["status"] == "running", "the picture was taken after the run ended"
    assert report["row"] >= 7 and report["curve_is_header_row"] and report["differs_from_row_0"]
    assert png.stat().st_size > 10_000
