"""Layout of a run file: groups, shapes, dtypes, units/long_name everywhere, NeXus attributes."""

from __future__ import annotations

import json
from datetime import datetime

import h5py
import numpy as np
import pytest

import stm_andreev
from stm_andreev.storage import G0_S, POINT_COLUMNS, SPECTRUM_DATASETS, RunWriter

from .storage_helpers import (
    METADATA,
    N_BIAS,
    PLAN_TEXT,
    STATION_TEXT,
    append_point,
    new_run,
)


@pytest.fixture()
def run_file(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=5, point_keys=["heater_power_W", "n_sweeps"])
    writer.log_event("start", "run started", time_s=0.0)
    for point in (0, 1, 2):
        append_point(writer, point)
    writer.close()
    return path


def _all_datasets(f: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    f.visititems(lambda name, obj: found.__setitem__(name, obj)
                 if isinstance(obj, h5py.Dataset) else None)
    return found


def test_every_dataset_has_units_and_long_name(run_file):
    with h5py.File(run_file, "r") as f:
        datasets = _all_datasets(f)
        assert len(datasets) > 30
        for name, ds in datasets.items():
            assert "units" in ds.attrs, name
            assert isinstance(ds.attrs["long_name"], str) and ds.attrs["long_name"], name


def test_spectra_are_chunked_resizable_2d(run_file):
    with h5py.File(run_file, "r") as f:
        data = f["entry/data"]
        for _, column in SPECTRUM_DATASETS:
            ds = data[column.name]
            assert ds.shape == (3, N_BIAS)
            assert ds.maxshape == (None, N_BIAS)
            assert ds.chunks == (1, N_BIAS)
            assert ds.dtype == np.float64
            assert ds.attrs["units"] == column.units
        assert data["bias_V"].attrs["units"] == "V"
        assert data["G_S"].attrs["units"] == "S"
        assert data["G_G0"].attrs["units"] == "2e^2/h"
        np.testing.assert_allclose(data["G_G0"][1], data["G_S"][1] / 7.748091729e-5)
        assert data["G_G0"].attrs["G0_S"] == G0_S


def test_point_table_columns_dtypes_and_units(run_file):
    with h5py.File(run_file, "r") as f:
        points = f["entry/points"]
        names = list(points.attrs["columns"])
        assert names == [c.name for c in POINT_COLUMNS] + ["heater_power_W", "n_sweeps"]
        for column in POINT_COLUMNS:
            ds = points[column.name]
            assert ds.shape == (3,) and ds.maxshape == (None,)
            assert ds.attrs["units"] == column.units
        assert points["time_s"].dtype == np.float64
        assert points["point_index"].dtype == np.int64
        status_info = h5py.check_string_dtype(points["status_text"].dtype)
        assert status_info.encoding == "utf-8" and status_info.length == 256
        assert points["temperature_before_K"].attrs["units"] == "K"
        assert points["preamp_gain_V_per_A"].attrs["units"] == "V/A"
        assert points["heater_power_W"].attrs["units"] == "W"
        assert points["n_sweeps"].attrs["units"] == "1"
        assert np.isnan(points["heater_power_W"][0])  # not given in the record: fill value


def test_ledger_and_events_layout(run_file):
    with h5py.File(run_file, "r") as f:
        ledger = f["entry/ledger"]
        assert ledger.dtype == np.int64 and ledger.maxshape == (None,)
        assert list(ledger[()]) == [0, 1, 2]
        events = f["entry/events"]
        assert set(events) == {"time_s", "point_index", "kind", "message"}
        # fixed-length UTF-8: SWMR readers cannot follow variable-length data
        for name, length in (("kind", 32), ("message", 1024)):
            string_info = h5py.check_string_dtype(events[name].dtype)
            assert string_info.encoding == "utf-8" and string_info.length == length
            assert events[name].maxshape == (None,)
        assert events["kind"].asstr()[0] == "start"


def test_nexus_attributes(run_file):
    with h5py.File(run_file, "r") as f:
        assert f.attrs["default"] == "entry"
        entry = f["entry"]
        assert entry.attrs["NX_class"] == "NXentry"
        assert entry.attrs["default"] == "data"
        data = entry["data"]
        assert data.attrs["NX_class"] == "NXdata"
        assert data.attrs["signal"] == "G_G0"
        assert list(data.attrs["axes"]) == ["point_index", "bias_axis_V"]
        assert data.attrs["bias_axis_V_indices"] == 1
        axis = data["bias_axis_V"]
        assert axis.shape == (N_BIAS,) and axis.attrs["units"] == "V"
        np.testing.assert_array_equal(axis[()], data["bias_V"][0])
        assert data["G_G0"].attrs["interpretation"] == "spectrum"


def test_file_name_attribute_is_the_run_files_own_name(run_file):
    """The file is laid out under a hidden staging name and then linked into place; the
    NeXus ``file_name`` must name the run file, not the staging file."""
    with h5py.File(run_file, "r") as f:
        assert f.attrs["file_name"] == run_file.name == "run.h5"


def test_plot_axis_storage_exists_before_the_first_spectrum(tmp_path):
    """Its storage is allocated before SWMR starts (a SWMR reader cannot open a contiguous
    dataset allocated later); it reads NaN until the first spectrum sets it."""
    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=2, n_bias=401)
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            axis = f["entry/data/bias_axis_V"]
            assert axis.id.get_storage_size() == 401 * 8
            assert np.isnan(axis[()]).all()
    finally:
        writer.close()


def test_resume_allocates_the_plot_axis_of_a_file_laid_out_without_it(tmp_path):
    """Files written before the axis was allocated up front get it on resume, before SWMR."""
    path = tmp_path / "run.h5"
    new_run(path, n_planned=2).close("aborted")
    with h5py.File(path, "r+", libver="latest") as f:  # the old layout: no storage yet
        attrs = dict(f["entry/data/bias_axis_V"].attrs)
        del f["entry/data/bias_axis_V"]
        old = f["entry/data"].create_dataset("bias_axis_V", shape=(N_BIAS,), dtype=np.float64,
                                             fillvalue=np.nan)
        old.attrs.update(attrs)
        assert old.id.get_storage_size() == 0
    writer = RunWriter.resume(path)
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            assert f["entry/data/bias_axis_V"].id.get_storage_size() == N_BIAS * 8
        append_point(writer, 0)
    finally:
        writer.close()
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["entry/data/bias_axis_V"][()], f["entry/data/bias_V"][0])


def test_run_metadata_texts_and_times(run_file):
    with h5py.File(run_file, "r") as f:
        entry = f["entry"]
        config = entry["config"]
        assert config["station_text"].asstr()[()] == STATION_TEXT
        assert config["plan_text"].asstr()[()] == PLAN_TEXT
        snapshot = json.loads(config["snapshot_json"].asstr()[()])
        assert snapshot["lockin"]["time_constant_s"] == 0.1
        assert json.loads(config["metadata_json"].asstr()[()]) == METADATA
        assert config.attrs["sample"] == "NbSe2"
        assert entry["software_version"].asstr()[()] == stm_andreev.__version__
        assert entry["program_name"].attrs["version"] == stm_andreev.__version__
        start = datetime.fromisoformat(entry["start_time"].asstr()[()])
        end = datetime.fromisoformat(entry["end_time"][()].decode())
        assert start.tzinfo is not None and end >= start
        assert entry["status"][()].decode() == "finished"
        assert int(entry["n_bias"][()]) == N_BIAS and int(entry["n_planned"][()]) == 5


def test_file_is_libver_latest_and_closed_cleanly(run_file):
    from stm_andreev.storage.superblock import superblock_flags

    assert superblock_flags(run_file) == 0
    head = run_file.read_bytes()[:9]
    assert head[:8] == b"\x89HDF\r\n\x1a\n"
    assert head[8] >= 3  # superblock v3: written with libver="latest", SWMR-capable
    # a plain (non-SWMR) open only works on a cleanly closed file
    with h5py.File(run_file, "r") as f:
        assert f["entry/ledger"].shape == (3,)
