"""Runs with continuous spectra: the per-point sigma of G and the ramp record are stored and
read back (also after a resume); runs without them keep their old layout."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from stm_andreev.storage import RunReader, RunWriter
from stm_andreev.storage.errors import SpectrumDataError
from stm_andreev.storage.layout import RAMP_COLUMNS

from .storage_helpers import (
    METADATA,
    N_BIAS,
    PLAN_TEXT,
    SNAPSHOT,
    STATION_TEXT,
    append_point,
    new_run,
    record_for,
    spectrum_for,
)

RAMP = {"ramp_time_s": 12.5, "ramp_dwell_s": 0.04, "ramp_rate_V_per_s": 2.5e-4,
        "ramp_passes": 2, "capture_rate_Hz": 312.5, "capture_samples": 3906,
        "ramp_filter_delay_s": 0.04, "ramp_regularisation": 1e-2,
        "ramp_width_points_median": 1.3, "ramp_resolution_V": 1.7e-5,
        "ramp_noise_rms_V": 3e-7, "ramp_G_sigma_median_S": 2e-9,
        "ramp_estimator": "regularised LS, GCV"}


def continuous_run(path, n_planned=4):
    return RunWriter.create(path, n_bias=N_BIAS, n_planned=n_planned, metadata=METADATA,
                            station_text=STATION_TEXT, plan_text=PLAN_TEXT, snapshot=SNAPSHOT,
                            continuous=True)


def sigma_for(point: int) -> np.ndarray:
    return np.linspace(1e-9, 2e-9, N_BIAS) * (1 + point)


def test_sigma_and_ramp_record_round_trip(tmp_path):
    path = tmp_path / "run.h5"
    writer = continuous_run(path)
    writer.append_spectrum(0, **spectrum_for(0, N_BIAS), record=record_for(0) | RAMP,
                           G_sigma_S=sigma_for(0))
    append_point(writer, 1)  # a point-by-point spectrum in the same run: no sigma, no ramp
    writer.close()
    with RunReader(path) as run:
        spectra, table = run.spectra(), run.table()
        first, second = run.spectrum(0), run.spectrum(1)
    np.testing.assert_array_equal(spectra["G_sigma_S"][0], sigma_for(0))
    np.testing.assert_array_equal(first.G_sigma_S, sigma_for(0))
    assert np.isnan(second.G_sigma_S).all()
    for name, value in RAMP.items():
        assert first.record[name] == value, name
        assert table[name][0] == value, name
    assert np.isnan(table["ramp_time_s"][1]) and table["ramp_passes"][1] == -1
    with h5py.File(path, "r") as f:
        ds = f["entry/data/G_sigma_S"]
        assert ds.attrs["units"] == "S" and ds.chunks == (1, N_BIAS)
        for column in RAMP_COLUMNS:
            assert f["entry/points"][column.name].attrs["units"] == column.units


def test_sigma_survives_a_resume_and_unconfirmed_rows_are_cut(tmp_path):
    path = tmp_path / "run.h5"
    writer = continuous_run(path)
    writer.append_spectrum(0, **spectrum_for(0, N_BIAS), record=record_for(0) | RAMP,
                           G_sigma_S=sigma_for(0))
    writer.close("paused")
    writer = RunWriter.resume(path)
    assert writer.stores_sigma
    writer.append_spectrum(2, **spectrum_for(2, N_BIAS), record=record_for(2) | RAMP,
                           G_sigma_S=sigma_for(2))
    writer.close()
    with RunReader(path) as run:
        sigma = run.spectra()["G_sigma_S"]
        assert run.table()["ramp_passes"].tolist() == [2, 2]
    np.testing.assert_array_equal(sigma, [sigma_for(0), sigma_for(2)])


def test_a_run_without_continuous_spectra_keeps_the_old_layout(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=2)
    assert not writer.stores_sigma
    with pytest.raises(SpectrumDataError, match="G_sigma_S given"):
        writer.append_spectrum(0, **spectrum_for(0, N_BIAS), record=record_for(0),
                               G_sigma_S=sigma_for(0))
    append_point(writer, 0)  # nothing was written by the refused call
    writer.close()
    with RunReader(path) as run:
        assert "G_sigma_S" not in run.spectra()
        assert run.spectrum(0).G_sigma_S is None
        assert "ramp_time_s" not in run.table()
    with h5py.File(path, "r") as f:
        assert "G_sigma_S" not in f["entry/data"]
