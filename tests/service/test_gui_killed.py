"""Acceptance: kill the GUI while a queue of three plans runs: all three finish, in order, each
file complete, none twice. A real ``stm-andreev gui`` process (offscreen Qt) follows the queue
a real ``stm-andreev serve`` runs on the simulated station; it is SIGKILLed mid-first-plan
while it has that plan's run file open."""

from __future__ import annotations

import os
import signal
import time

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("PyQt5")

from .serving import (  # noqa: E402
    PROCESS_WAIT_S,
    Served,
    open_files,
    pid_alive,
    start_gui,
    sweep_plan,
)
from .test_serve_processes import _check_each_file_complete_and_in_order  # noqa: E402

pytestmark = pytest.mark.slow


def test_killing_the_gui_mid_queue_leaves_all_three_plans_to_finish(tmp_path):
    served = Served(tmp_path).start()
    gui = None
    names = ["first", "second", "third"]
    try:
        gui = start_gui(served.queue, served.runs, served.tmp / "gui.log")
        served.post("/api/queue", {"plan_text": sweep_plan("first", n=30, n_bias=201)})
        for name in names[1:]:
            served.post("/api/queue", {"plan_text": sweep_plan(name)})
        # Paused at its first stored spectrum, so the GUI is killed mid-plan whatever the
        # machine's speed.
        status = served.wait_for(lambda s: s["run"].get("plan") == "first"
                                 and s["run"]["done"] >= 1, "the first plan's first spectrum")
        served.post("/api/run/pause")
        status = served.wait_for(lambda s: s["run"]["status"] == "paused", "the pause")
        run_file, run_pid = status["current"]["run_file"], status["current"]["pid"]
        deadline = time.monotonic() + PROCESS_WAIT_S
        while run_file not in open_files(gui.pid):  # the GUI follows the service's run
            assert gui.poll() is None, (served.tmp / "gui.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the GUI never opened the running plan's file"
            time.sleep(0.1)
        os.kill(gui.pid, signal.SIGKILL)
        assert gui.wait(timeout=30) == -signal.SIGKILL
        assert pid_alive(run_pid), "killing the GUI stopped the run"
        served.post("/api/run/resume")
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 3}, "three finished plans")
        _check_each_file_complete_and_in_order(served, names)
    finally:
        if gui is not None and gui.poll() is None:
            gui.kill()
            gui.wait(30)
        served.stop()
