"""The raw lock-in samples of continuous spectra (issue 18: "the GUI shows the raw samples"):
the engine keeps them beside the run file, one file per point, and they are exactly the
samples the stored spectrum was estimated from."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.config import load_plan_text
from stm_andreev.engine import RunEngine
from stm_andreev.procedures.continuous import grid_walk
from stm_andreev.procedures.ramp_estimator import estimate
from stm_andreev.storage import RunReader
from stm_andreev.storage.ramp_samples import has_ramp_samples, read_ramp_samples, samples_dir

from .conftest import new_run
from .test_continuous import NoPauseControl, sr860_config

PLAN = """
name: continuous-samples
kind: setpoint_sweep
acquisition: {mode}
temperature_K: 0.065
I_start_A: 1.0e-8
I_stop_A: 1.0e-6
n_setpoints: 2
n_bias: 41
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.5
"""


def run(tmp_path, mode: str):
    plan = load_plan_text(PLAN.format(mode=mode), "plan.yaml")
    station, points, writer = new_run(tmp_path, plan, config=sr860_config())
    summary = RunEngine(station, points, writer, control=NoPauseControl(None)).run()
    station.close()
    assert summary.status == "finished" and summary.measured == 2
    return writer.path


def test_continuous_run_keeps_the_samples_each_spectrum_came_from(tmp_path):
    path = run(tmp_path, "continuous")
    assert has_ramp_samples(path)
    with RunReader(path) as reader:
        rows = [reader.spectrum(i) for i in range(reader.n_spectra)]
    for row in rows:
        samples = read_ramp_samples(path, row.point_index)
        assert samples is not None, row.point_index
        assert samples.X_V.size == samples.time_s.size > 5 * row.bias_V.size
        assert np.all(np.diff(samples.time_s) > 0) and np.all(np.diff(samples.step_time_s) > 0)
        np.testing.assert_array_equal(samples.step_bias_V, row.bias_V)  # forward walk
        assert samples.time_constant_s == pytest.approx(row.record["lockin_time_constant_s"])
        # the stored spectrum is the estimate from exactly these samples
        walk = grid_walk(row.bias_V.size, "forward")
        again = estimate(samples.time_s, np.column_stack([samples.X_V, samples.Y_V]),
                         samples.step_time_s, samples.time_constant_s,
                         samples.filter_slope_db, grid_index=walk)
        np.testing.assert_allclose(again.values[:, 0], row.X_V, rtol=1e-9, atol=1e-15)
        # and the raw trace follows the spectrum: late samples (filter settled at the last
        # bias) read the last grid value
        assert samples.X_V[-1] == pytest.approx(row.X_V[-1], rel=0.2)
    assert not list(samples_dir(path).glob(".*tmp"))  # nothing half-written left


def test_point_by_point_run_keeps_no_samples(tmp_path):
    path = run(tmp_path, "lockin")
    assert not samples_dir(path).exists()
    assert read_ramp_samples(path, 0) is None
