"""GUI tests run offscreen; shared run files (physics-made and engine-made)."""

from __future__ import annotations

import os
import shutil
import subprocess

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from .physics_runs import write_physics_run  # noqa: E402

SETPOINT_ONLY_PLAN = """
name: gui-setpoints
steps:
  - kind: setpoint_sweep
    label: setpoints
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 4
    n_bias: 41
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""


@pytest.fixture(scope="session")
def physics_run(tmp_path_factory):
    """A finished run file: 12 setpoints at 65 mK, then 7 temperatures (physics spectra)."""
    path = tmp_path_factory.mktemp("physics") / "physics.h5"
    write_physics_run(path)
    return path


@pytest.fixture(scope="session")
def engine_run(tmp_path_factory):
    """A finished run file made by the real engine on the in-process simulated station."""
    from stm_andreev.config import load_plan_text, load_station
    from stm_andreev.engine import RunControl, RunEngine
    from stm_andreev.engine.runner import POINT_KEYS
    from stm_andreev.procedures import plan_points
    from stm_andreev.station import Station
    from stm_andreev.storage import RunWriter

    plan = load_plan_text(SETPOINT_ONLY_PLAN, "gui-setpoints.yaml")
    config = load_station("simulated")
    points = plan_points(plan)
    path = tmp_path_factory.mktemp("engine") / "engine.h5"
    with Station.from_config(config, source_text=config.source_text) as station:
        writer = RunWriter.create(
            path, n_bias=points[0].settings.bias_V.size, n_planned=len(points),
            metadata={"plan": plan.name}, station_text=config.source_text,
            plan_text=SETPOINT_ONLY_PLAN, snapshot=station.snapshot(), point_keys=POINT_KEYS,
        )
        summary = RunEngine(station, points, writer, control=RunControl(path)).run()
    assert summary.status == "finished"
    return path


@pytest.fixture(scope="session")
def continuous_run(tmp_path_factory):
    """A finished engine-made run of two continuous spectra (tunnelling, contact) with their
    raw lock-in samples."""
    from .continuous_runs import write_continuous_run

    return write_continuous_run(tmp_path_factory.mktemp("continuous") / "continuous.h5")


@pytest.fixture(autouse=True)
def _widgets_gone_before_the_next_test(qapp):
    """Every widget a test made is closed, deleted and collected at its teardown.

    Why: pytest-qt closes a test's widgets but Qt deletes them later, and Python's cyclic
    collector frees their plot items whenever it next runs - in the middle of a later test's
    paint, where pyqtgraph then draws an axis whose C++ object is gone (SIGSEGV in the full
    suite, never in the GUI tests alone). Here that happens at a known moment, with nothing
    painting."""
    yield
    import gc

    from PyQt5 import QtCore, QtWidgets

    QtWidgets.QApplication.closeAllWindows()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
    QtWidgets.QApplication.processEvents()
    gc.collect()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)


@pytest.fixture
def xvfb_display():
    """An Xvfb server on a free display (it picks the number itself: -displayfd)."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is not installed but CI is set: .ci/run must install xvfb")
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten",
         "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)
