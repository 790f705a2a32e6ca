"""Raw samples of continuous spectra beside the run file: whole files only, re-takes
replace, nothing loaded as code."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.storage.ramp_samples import (
    RampSamples,
    has_ramp_samples,
    read_ramp_samples,
    sample_path,
    samples_dir,
    write_ramp_samples,
)


def samples(n: int = 100, scale: float = 1.0) -> RampSamples:
    t = np.arange(n) / 1000.0
    return RampSamples(t, scale * np.sin(t).astype(np.float32), np.zeros(n, np.float32),
                       np.array([0.0, 0.03, 0.06]), np.array([-1e-3, 0.0, 1e-3]), 0.003, 24)


def test_round_trip_and_retake_replaces(tmp_path):
    run = tmp_path / "run.h5"
    assert not has_ramp_samples(run) and read_ramp_samples(run, 3) is None
    written = write_ramp_samples(run, 3, samples())
    assert written == sample_path(run, 3) and written.parent == samples_dir(run)
    assert samples_dir(run).name == "run.h5.ramp"
    got = read_ramp_samples(run, 3)
    np.testing.assert_array_equal(got.X_V, samples().X_V)
    np.testing.assert_array_equal(got.step_bias_V, [-1e-3, 0.0, 1e-3])
    assert (got.time_constant_s, got.filter_slope_db) == (0.003, 24)
    write_ramp_samples(run, 3, samples(scale=2.0))
    np.testing.assert_allclose(read_ramp_samples(run, 3).X_V, 2 * samples().X_V)
    assert sorted(p.name for p in samples_dir(run).iterdir()) == ["point_000003.npz"]
    assert has_ramp_samples(run)


def test_bias_at_sample_times():
    s = samples()
    np.testing.assert_array_equal(s.bias_at(np.array([-0.01, 0.0, 0.029, 0.03, 0.5])),
                                  [np.nan, -1e-3, -1e-3, 0.0, 1e-3])


def test_a_pickled_object_in_a_sample_file_is_refused(tmp_path):
    run = tmp_path / "run.h5"
    path = sample_path(run, 0)
    path.parent.mkdir()
    np.savez(path, time_s=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        read_ramp_samples(run, 0)
