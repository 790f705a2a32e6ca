"""Append, close, reopen, resume and read back; validation of what goes in."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from stm_andreev.storage import (
    DuplicatePointError,
    PointIndexError,
    ReaderNotLiveError,
    RecordFieldError,
    RunReader,
    RunWriter,
    SpectrumDataError,
    WriterClosedError,
)

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


def _check_row(reader: RunReader, row: int, point: int) -> None:
    spec = reader.spectrum(row)
    expected = spectrum_for(point)
    assert spec.point_index == point and spec.row == row
    for name in ("bias_V", "G_S", "X_V", "Y_V"):
        np.testing.assert_array_equal(getattr(spec, name), expected[name])
    np.testing.assert_allclose(spec.G_G0, expected["G_S"] / 7.748091729e-5)
    for key, value in record_for(point).items():
        assert spec.record[key] == value, key
    assert spec.record["point_index"] == point


def test_append_close_and_read_back(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path)
    order = [3, 0, 5, 1]
    for point in order:
        append_point(writer, point)
    writer.log_event("pause", "helium refill", time_s=12.5, point_index=5)
    writer.set_status("paused")
    assert writer.finished_points == set(order)
    assert writer.n_spectra == 4
    writer.close()
    writer.close()  # idempotent

    with RunReader(path) as reader:
        assert reader.n_spectra == 4
        assert list(reader.ledger) == order
        for row, point in enumerate(order):
            _check_row(reader, row, point)
        spectra = reader.spectra()
        assert spectra["G_S"].shape == (4, N_BIAS)
        np.testing.assert_array_equal(spectra["Y_V"][2], spectrum_for(5)["Y_V"])
        table = reader.table()
        assert list(table["point_index"]) == order
        assert list(table["status_text"]) == [f"ok {p}" for p in order]
        assert table["time_s"].dtype == np.float64
        assert reader.events()[0].kind == "pause"
        assert reader.events()[0].point_index == 5
        meta = reader.metadata
        assert meta["sample"] == METADATA["sample"]
        assert meta["status"] == "finished" and meta["end_time"]
        assert meta["n_bias"] == N_BIAS and meta["n_planned"] == 8
        assert reader.station_text == STATION_TEXT and reader.plan_text == PLAN_TEXT
        assert reader.snapshot["fridge"] == SNAPSHOT["fridge"]
        assert reader.spectrum(-1).point_index == 1
        with pytest.raises(IndexError, match="out of range"):
            reader.spectrum(4)
        with pytest.raises(ReaderNotLiveError):
            reader.refresh()


def test_resume_after_clean_close_appends_after_existing_rows(tmp_path):
    path = tmp_path / "run.h5"
    with new_run(path, n_planned=6) as writer:
        for point in (0, 1, 2):
            append_point(writer, point)
    resumed = RunWriter.resume(path)
    assert resumed.finished_points == {0, 1, 2}
    assert resumed.rows_discarded == 0 and not resumed.recovered_unclean
    assert resumed.previous_status == "finished"
    with RunReader(path, live=True) as reader:
        assert reader.status == "running" and reader.end_time == ""
        with pytest.raises(DuplicatePointError, match="never recorded twice"):
            append_point(resumed, 1)
        for point in (3, 4, 5):
            append_point(resumed, point)
        resumed.close("finished")
        assert reader.refresh() == 6
        assert reader.status == "finished"
        assert list(reader.ledger) == [0, 1, 2, 3, 4, 5]
        _check_row(reader, 4, 4)


def test_context_manager_marks_aborted_on_exception(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.raises(RuntimeError), new_run(path) as writer:
        append_point(writer, 0)
        raise RuntimeError("interlock")
    with RunReader(path) as reader:
        assert reader.status == "aborted"
        assert reader.n_spectra == 1


def test_reader_sees_only_ledger_confirmed_rows(tmp_path, monkeypatch):
    """A writer interrupted between row and ledger: the row exists but nobody sees it."""
    path = tmp_path / "run.h5"
    writer = new_run(path)
    append_point(writer, 0)

    class Interrupted(Exception):
        pass

    def hook(stage: str, point: int) -> None:
        if stage == "row_written" and point == 1:
            raise Interrupted

    monkeypatch.setattr(RunWriter, "fault_hook", hook)
    with pytest.raises(Interrupted):
        append_point(writer, 1)
    monkeypatch.setattr(RunWriter, "fault_hook", None)
    with pytest.raises(WriterClosedError, match="failed earlier"):
        append_point(writer, 2)

    with RunReader(path, live=True) as reader:
        assert reader.n_spectra == 1
        assert reader.spectra()["G_S"].shape == (1, N_BIAS)
        assert len(reader.table()["time_s"]) == 1
    with h5py.File(path, "r", swmr=True) as f:
        assert f["entry/data/G_S"].shape[0] == 2  # the unconfirmed row is on disk
    writer.close()

    resumed = RunWriter.resume(path)
    assert resumed.rows_discarded == 1
    assert resumed.finished_points == {0}
    append_point(resumed, 1)
    resumed.close()
    with RunReader(path) as reader:
        assert list(reader.ledger) == [0, 1]
        _check_row(reader, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bias_V": np.zeros(N_BIAS - 1)}, SpectrumDataError, "bias_V has shape"),
        ({"G_S": np.zeros((2, N_BIAS))}, SpectrumDataError, "G_S has shape"),
        ({"X_V": ["a"] * N_BIAS}, SpectrumDataError, "X_V is not an array of numbers"),
        ({"bias_V": np.full(N_BIAS, np.nan)}, SpectrumDataError, "non-finite"),
        ({"record": {"temprature_K": 1.0}}, RecordFieldError, "unknown field"),
        ({"record": {"time_s": "now"}}, RecordFieldError, "time_s must be a real number"),
        ({"record": {"status_code": 1.5}}, RecordFieldError, "status_code must be an integer"),
        ({"record": {"status_text": 3}}, RecordFieldError, "status_text must be text"),
        ({"record": {"z_m": True}}, RecordFieldError, "z_m must be a number"),
        ({"record": {"point_index": 4}}, RecordFieldError, "differs"),
    ],
)
def test_bad_spectrum_or_record_is_rejected_and_nothing_written(tmp_path, kwargs, error, match):
    path = tmp_path / "run.h5"
    with new_run(path) as writer:
        arguments = {**spectrum_for(2), "record": record_for(2), **kwargs}
        with pytest.raises(error, match=match):
            writer.append_spectrum(2, **arguments)
        assert writer.n_spectra == 0
        append_point(writer, 2)  # the writer is still usable
    with RunReader(path) as reader:
        assert list(reader.ledger) == [2]


@pytest.mark.parametrize("point", [-1, 8, 100, 2.0, True, "3"])
def test_point_index_outside_plan_is_rejected(tmp_path, point):
    with new_run(tmp_path / "run.h5") as writer:
        with pytest.raises(PointIndexError):
            writer.append_spectrum(point, **spectrum_for(0), record={})
        with pytest.raises(PointIndexError):
            writer.is_finished(point)


def test_missing_record_fields_are_stored_as_fill_values(tmp_path):
    path = tmp_path / "run.h5"
    with new_run(path) as writer:
        writer.append_spectrum(0, **spectrum_for(0), record={"time_s": 1.0, "z_m": None})
    with RunReader(path) as reader:
        record = reader.spectrum(0).record
        assert record["time_s"] == 1.0
        assert math.isnan(record["z_m"]) and math.isnan(record["setpoint_A"])
        assert record["status_code"] == -1 and record["status_text"] == ""


def test_nan_conductance_is_kept_for_failed_spectra(tmp_path):
    path = tmp_path / "run.h5"
    with new_run(path) as writer:
        data = spectrum_for(0)
        data["G_S"] = np.full(N_BIAS, np.nan)
        writer.append_spectrum(0, **data, record={"status_code": 3, "status_text": "overload"})
    with RunReader(path) as reader:
        assert np.isnan(reader.spectrum(0).G_G0).all()


def test_event_and_status_validation(tmp_path):
    with new_run(tmp_path / "run.h5") as writer:
        with pytest.raises(RecordFieldError, match="kind"):
            writer.log_event("", "x", time_s=0.0)
        with pytest.raises(RecordFieldError, match="time_s"):
            writer.log_event("pause", "x", time_s=float("inf"))
        with pytest.raises(PointIndexError):
            writer.log_event("retake", "x", time_s=0.0, point_index=99)
        with pytest.raises(RecordFieldError, match="64"):
            writer.set_status("x" * 65)
        with pytest.raises(RecordFieldError, match="non-empty"):
            writer.set_status("")
        writer.log_event("retake", "tip change: spectrum retaken — ΔG > 5 %", time_s=3.0,
                         point_index=2)
        events = []
    with RunReader(tmp_path / "run.h5") as reader:
        events = reader.events()
    assert events[0].message == "tip change: spectrum retaken — ΔG > 5 %"
    assert (events[0].time_s, events[0].point_index) == (3.0, 2)


def test_closed_writer_refuses_everything(tmp_path):
    writer = new_run(tmp_path / "run.h5")
    writer.close()
    assert writer.closed
    for call in (lambda: append_point(writer, 0), lambda: writer.set_status("x"),
                 lambda: writer.log_event("a", "b", time_s=0.0)):
        with pytest.raises(WriterClosedError, match="closed"):
            call()


def test_invalid_create_arguments(tmp_path):
    common = {"metadata": {}, "station_text": "", "plan_text": "", "snapshot": {}}
    with pytest.raises(ValueError, match="n_bias"):
        RunWriter.create(tmp_path / "a.h5", n_bias=0, n_planned=1, **common)
    with pytest.raises(ValueError, match="n_planned"):
        RunWriter.create(tmp_path / "a.h5", n_bias=3, n_planned=-2, **common)
    with pytest.raises(RecordFieldError, match="duplicates a standard column"):
        RunWriter.create(tmp_path / "a.h5", n_bias=3, n_planned=1, point_keys=["z_m"], **common)
    with pytest.raises(RecordFieldError, match="snapshot cannot be stored as JSON"):
        RunWriter.create(tmp_path / "a.h5", n_bias=3, n_planned=1,
                         **{**common, "snapshot": {"x": object()}})
    assert not (tmp_path / "a.h5").exists()


def test_long_free_text_is_cut_with_a_mark_not_refused(tmp_path, caplog):
    path = tmp_path / "run.h5"
    long_message = "é" * 600 + "end"  # 1203 UTF-8 bytes
    with new_run(path) as writer:
        writer.log_event("interlock", long_message, time_s=1.0)
        writer.append_spectrum(0, **spectrum_for(0), record={"status_text": "ü" * 200})
        with pytest.raises(RecordFieldError, match="longer than 32"):
            writer.log_event("k" * 33, "x", time_s=1.0)
    assert "cut to" in caplog.text
    with RunReader(path) as reader:
        message = reader.events()[0].message
        assert message.endswith("\u2026") and message.startswith("é" * 100)
        assert len(message.encode("utf-8")) <= 1024
        status_text = reader.spectrum(0).record["status_text"]
        assert status_text == "ü" * 126 + "\u2026"
        assert reader.table()["status_text"][0] == status_text


def test_events_from_another_thread_interleave_safely(tmp_path):
    import threading

    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=40)
    failures: list[BaseException] = []

    def watcher() -> None:
        try:
            for i in range(40):
                writer.log_event("interlock_check", f"check {i}", time_s=float(i))
        except BaseException as exc:  # reported to the main thread below
            failures.append(exc)

    thread = threading.Thread(target=watcher)
    thread.start()
    for point in range(40):
        append_point(writer, point)
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures
    writer.close()
    with RunReader(path) as reader:
        assert list(reader.ledger) == list(range(40))
        assert [e.message for e in reader.events()] == [f"check {i}" for i in range(40)]
        for row in (0, 17, 39):
            np.testing.assert_array_equal(reader.spectrum(row).G_S, spectrum_for(row)["G_S"])
