"""Issue 18 in the GUI: a continuous spectrum's raw lock-in samples (time and bias against X)
are shown with the curve recovered from them; point-by-point runs show no such tab."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.gui.app import GuiOptions, build_gui
from stm_andreev.gui.main_window import TAB_NAMES
from stm_andreev.storage import G0_S, RunReader
from stm_andreev.storage.ramp_samples import read_ramp_samples


@pytest.fixture
def gui(qtbot, tmp_path):
    gui = build_gui(GuiOptions(queue=str(tmp_path / "q.json"), runs=str(tmp_path)))
    qtbot.addWidget(gui.window)
    yield gui
    gui.close()


def test_ramp_tab_shows_the_raw_samples_and_the_recovered_curve(gui, continuous_run):
    window = gui.window
    tab = TAB_NAMES.index("Ramp samples")
    window.open_run(str(continuous_run))
    assert window.tabs.isTabVisible(tab)
    with RunReader(continuous_run) as reader:
        last = reader.spectrum(reader.n_spectra - 1)
    samples = read_ramp_samples(continuous_run, last.point_index)
    to_G0 = 1 / (last.record["preamp_gain_V_per_A"] * last.record["modulation_Vrms"] * G0_S)
    t, raw = window.ramp.raw_time_curve.getData()
    np.testing.assert_allclose(t, samples.time_s)
    np.testing.assert_allclose(raw, samples.X_V * to_G0, rtol=1e-6)
    V, G = window.ramp.recovered_curve.getData()
    np.testing.assert_array_equal(V, last.bias_V)
    np.testing.assert_array_equal(G, last.G_G0)
    # raw samples against the bias applied at their time: only grid values
    Vraw, _ = window.ramp.raw_bias_curve.getData()
    assert Vraw.size > V.size and np.all(np.isin(Vraw, last.bias_V))
    # the settled end of the raw trace reads the recovered curve's last value
    assert raw[-1] == pytest.approx(G[-1], rel=0.2)
    assert f"point {last.point_index}" in window.ramp.title.text()
    # the bias staircase drawn against time is the walk the controller made
    _, steps = window.ramp.bias_curve.getData()
    np.testing.assert_array_equal(steps[:-1], samples.step_bias_V)


def test_showing_another_row_shows_its_own_samples(gui, continuous_run):
    window = gui.window
    window.open_run(str(continuous_run))
    window.show_ramp_samples(0)
    _, raw0 = window.ramp.raw_time_curve.getData()
    samples0 = read_ramp_samples(continuous_run, int(window.spectra.model.column(
        "point_index")[0]))
    assert raw0.size == samples0.time_s.size
    window.show_ramp_samples(1)
    _, raw1 = window.ramp.raw_time_curve.getData()
    assert not np.array_equal(raw0[:50], raw1[:50])


def test_point_by_point_run_has_no_ramp_tab(gui, physics_run):
    window = gui.window
    window.open_run(str(physics_run))
    assert not window.tabs.isTabVisible(TAB_NAMES.index("Ramp samples"))
    assert "no raw samples" in window.ramp.title.text()
