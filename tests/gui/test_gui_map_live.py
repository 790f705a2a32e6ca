"""The map panel fills while a real grid run is written (issue 17): a real ``stm-andreev run``
of a 12 x 12 grid on the simulated station (SWMR), followed by the panel as the GUI follows a
run file; pixels appear while the run goes, every one of them by the end, and a clicked pixel
shows the file's spectrum and the pipeline's fit. Offscreen here, and the same test on a real
X server (Xvfb, Qt's xcb platform) in a child pytest.

With ``STM_ANDREEV_WRITE_SCREENSHOTS=1`` the picture taken mid-run goes to docs/screenshots/
(``map_live.png``, ``map_live_xvfb.png`` on Xvfb); otherwise to the test's temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PyQt5 import QtGui

from stm_andreev.gui import map_source
from stm_andreev.gui.map_view import MapPanel
from stm_andreev.service.launcher import find_run_file
from stm_andreev.storage.grid_read import read_grid

from .test_gui_map_panel import choose, click_pixel

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_SHOTS = REPO_ROOT / "docs" / "screenshots"
TIMEOUT_MS = 120_000
NX = NY = 12
# ~0.3 s of wall time per pixel on the simulated station's clock: the run lasts seconds,
# long enough to be seen filling, short enough to be watched to its end.
PLAN = f"""
name: map-live
kind: grid
temperature_K: 0.065
centre_m: [0.0, 0.0]
size_m: [110.0e-9, 110.0e-9]
nx: {NX}
ny: {NY}
setpoint_A: 1.0e-6
move_setpoint_A: 1.0e-8
move_settle_s: 0.05
V_sp_V: -3.0e-3
bias_start_V: -1.5e-3
bias_stop_V: 1.5e-3
n_bias: 61
modulation_Vrms: 10.0e-6
lockin_time_constant_s: 0.01
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.2
"""


def _drawn(panel: MapPanel) -> int:
    """Pixels the map draws with a value (finite), and check the image agrees: exactly those
    pixels are opaque."""
    if panel.data is None:
        return 0
    finite = np.isfinite(panel.data.values)
    image = panel.image.image
    assert image is not None and image.shape[:2] == finite.shape
    assert np.array_equal(image[..., 3] > 0, finite)
    return int(finite.sum())


def _screenshot_path(tmp_path: Path) -> Path:
    name = "map_live.png" if os.environ["QT_QPA_PLATFORM"] == "offscreen" \
        else f"map_live_{os.environ['QT_QPA_PLATFORM'].replace('xcb', 'xvfb')}.png"
    if os.environ.get("STM_ANDREEV_WRITE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SHOTS / name
    return tmp_path / name


def test_map_panel_fills_while_a_grid_runs(qtbot, tmp_path):
    assert QtGui.QGuiApplication.platformName() == os.environ["QT_QPA_PLATFORM"]
    plan = tmp_path / "map-live.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "runs"
    run = subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
         "--no-report", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    panel = MapPanel(interval_ms=100)
    qtbot.addWidget(panel)
    try:
        qtbot.waitUntil(lambda: out.is_dir() and find_run_file(out) is not None,
                        timeout=TIMEOUT_MS)
        path = find_run_file(out)
        qtbot.waitUntil(lambda: map_source.has_grid(path), timeout=TIMEOUT_MS)
        panel.resize(1400, 800)
        panel.show()
        qtbot.waitExposed(panel)
        panel.follow_run(path)
        choose(panel, "G_at_bias")  # G at zero bias: the gap map shows through
        assert panel.timer.isActive()

        # Pixels appear while the run goes; a pixel done shows the file's spectrum, then
        # the pipeline's fit with sigma and grade; more pixels come meanwhile.
        qtbot.waitUntil(lambda: _drawn(panel) >= 3, timeout=TIMEOUT_MS)
        first, first_running = _drawn(panel), run.poll() is None
        with qtbot.waitSignal(panel.fit_shown, timeout=TIMEOUT_MS):
            click_pixel(qtbot, panel, 0, 1)
        assert panel.selected == (0, 1)
        bias, G = panel.spectrum_curve.getData()
        pixel = read_grid(path, lazy=False).isel(y=0, x=1)
        np.testing.assert_array_equal(bias, pixel["bias"].values)
        np.testing.assert_array_equal(G, pixel["G_G0"].values)
        fit_V, fit_G = panel.fit_curve.getData()
        assert fit_V is not None and np.isfinite(fit_G).all()
        on_data = np.interp(fit_V, bias, G)  # the fit lies on the spectrum it fits
        assert np.median(np.abs(fit_G - on_data)) < 0.05 * np.median(on_data)
        text = panel.pixel_text.text()
        assert "Fit of this spectrum" in text and "±" in text
        assert any(f"({grade}" in text for grade in ("good", "poor"))
        qtbot.waitUntil(lambda: _drawn(panel) >= first + 3, timeout=TIMEOUT_MS)
        second, second_running = _drawn(panel), run.poll() is None
        assert first_running and second_running, "the run ended before the map was seen fill"
        assert 3 <= first < second < NX * NY
        assert f"{second} of {NX * NY} pixels measured" in panel.status.text()
        shot = _screenshot_path(tmp_path)
        assert panel.grab().save(str(shot))

        # ... and every pixel by the end.
        assert run.wait(timeout=TIMEOUT_MS / 1000) == 0, run.stderr.read()
        qtbot.waitUntil(lambda: _drawn(panel) == NX * NY, timeout=TIMEOUT_MS)
        assert f"{NX * NY} of {NX * NY} pixels measured" in panel.status.text()
    finally:
        panel.stop()
        if run.poll() is None:
            run.kill()
        run.wait(timeout=60)
        if run.stderr:
            run.stderr.close()


def test_the_same_on_a_real_x_server(tmp_path, xvfb_display):
    """The test above in a child pytest on Xvfb with Qt's xcb platform."""
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
         str(tmp_path / "child"),
         f"{Path(__file__).relative_to(REPO_ROOT)}::test_map_panel_fills_while_a_grid_runs"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-2000:]
    assert "1 passed" in child.stdout
