"""A reader in another process follows a run live (SWMR) while this process writes it."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from stm_andreev.storage import G0_S, RunReader, RunWriter, shared_file

from .storage_helpers import append_point, bias_grid, new_run, record_for, spectrum_for
from .subprocess_helpers import TIMEOUT_S, read_line, send_line, start_module

CHILD = "tests.storage.live_reader_child"


def _ask(proc, command: str) -> dict:
    send_line(proc, command)
    return json.loads(read_line(proc))


def test_reader_process_follows_the_writer_live(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=60)
    reader = start_module(CHILD, str(path))
    try:
        opened = json.loads(read_line(reader))
        assert opened["n"] == 0 and opened["status"] == "running" and opened["end_time"] == ""

        for point in (2, 0, 1):
            append_point(writer, point)
        writer.log_event("start", "first three done", time_s=30.0)
        state = _ask(reader, "check")
        assert state["error"] is None
        assert state["n"] == 3 and state["ledger"] == [2, 0, 1]
        assert state["events"] == ["start"]

        writer.set_status("paused")
        assert _ask(reader, "check")["status"] == "paused"
        writer.set_status("running")

        # Unsynchronised: the reader polls while the writer streams 40 spectra.
        send_line(reader, "follow 43")
        for point in range(3, 43):
            append_point(writer, point)
        followed = json.loads(read_line(reader))
        assert followed["error"] is None
        assert followed["n"] == 43
        assert followed["observations"] == sorted(followed["observations"])
        assert followed["ledger"] == [2, 0, 1, *range(3, 43)]

        writer.close("finished")
        final = _ask(reader, "check")
        assert final["error"] is None
        assert final["status"] == "finished" and final["end_time"]
        assert final["n"] == 43
        send_line(reader, "quit")
        reader.communicate(timeout=TIMEOUT_S)
        assert reader.returncode == 0
    finally:
        writer.close()
        if reader.poll() is None:
            reader.kill()
            reader.communicate(timeout=TIMEOUT_S)


def test_reader_process_opened_mid_run_sees_confirmed_rows_only(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path, n_planned=10)
    for point in range(4):
        append_point(writer, point)
    reader = start_module(CHILD, str(path))
    try:
        opened = json.loads(read_line(reader))
        assert opened["n"] == 4 and opened["ledger"] == [0, 1, 2, 3]
        append_point(writer, 9)
        state = _ask(reader, "check")
        assert state["n"] == 5 and state["ledger"][-1] == 9 and state["error"] is None
        send_line(reader, "quit")
        reader.communicate(timeout=TIMEOUT_S)
        assert reader.returncode == 0
    finally:
        writer.close()
        if reader.poll() is None:
            reader.kill()
            reader.communicate(timeout=TIMEOUT_S)


def test_reader_stays_attached_through_a_writer_crash_and_resume(tmp_path):
    """A GUI-like reader follows a run whose writer is killed and then resumed elsewhere."""
    path = tmp_path / "run.h5"
    n_planned = 8
    writer_proc = start_module("tests.storage.crash_writer_child", str(path), "create",
                               str(n_planned), "--hook", "row_written:3")
    assert read_line(writer_proc) == "ready"
    reader = start_module(CHILD, str(path))
    try:
        json.loads(read_line(reader))
        writer_proc.communicate(timeout=TIMEOUT_S)
        assert writer_proc.returncode == -signal.SIGKILL
        crashed = _ask(reader, "check")
        assert crashed["error"] is None and crashed["ledger"] == [0, 1, 2]

        resumed = RunWriter.resume(path)  # the reader still has the file open
        assert resumed.rows_discarded == 1
        for point in range(n_planned):
            if not resumed.is_finished(point):
                append_point(resumed, point)
        resumed.close()
        final = _ask(reader, "check")
        assert final["error"] is None
        assert final["ledger"] == list(range(n_planned))
        assert final["status"] == "finished"
        send_line(reader, "quit")
        reader.communicate(timeout=TIMEOUT_S)
        assert reader.returncode == 0
    finally:
        for proc in (writer_proc, reader):
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT_S)


def test_an_independent_h5py_reader_reads_every_dataset_throughout_a_run(tmp_path):
    """A plain-h5py SWMR reader in another process, attached before the first spectrum,
    opens, refreshes and reads every dataset of the file on every poll while a run with a
    realistic spectrum length (401 bias points) is written: never an error, and the plot axis
    it ends with is the run's bias grid."""
    path = tmp_path / "run.h5"
    n_bias, n_planned = 401, 40
    writer = new_run(path, n_planned=n_planned, n_bias=n_bias)
    reader = start_module("tests.storage.independent_reader_child", str(path))
    try:
        assert read_line(reader) == "open"
        assert read_line(reader) == "rows 0"
        for point in range(n_planned):
            append_point(writer, point)
            writer.log_event("measure", f"point {point}", time_s=float(point), point_index=point)
            if point % 8 == 0:  # the reader must have looked at this moment of the run
                line = read_line(reader)
                while line.startswith("rows ") and int(line.split()[1]) <= point:
                    line = read_line(reader)
                assert line.startswith("rows "), f"the reader stopped following: {line}"
        writer.close("finished")
        line = read_line(reader)
        while line.startswith("rows "):
            line = read_line(reader)
        report = json.loads(line)
        reader.communicate(timeout=TIMEOUT_S)
    finally:
        writer.close()
        if reader.poll() is None:
            reader.kill()
            reader.communicate(timeout=TIMEOUT_S)
    assert reader.returncode == 0
    assert "entry/data/bias_axis_V" in report["datasets"] and len(report["datasets"]) > 30
    assert report["errors"] == {}
    assert report["status"] == "finished" and report["polls"] >= 2
    assert report["axis"] == bias_grid(n_bias).tolist()


def _check_rows(reader: RunReader, n: int) -> None:
    assert reader.n_spectra == n
    for row in range(n):
        spectrum = reader.spectrum(row)
        assert spectrum.point_index == row
        np.testing.assert_array_equal(spectrum.G_S, spectrum_for(row)["G_S"], f"row {row}")
        np.testing.assert_array_equal(spectrum.G_G0, spectrum_for(row)["G_S"] / G0_S)
        assert spectrum.record["time_s"] == record_for(row)["time_s"]
    np.testing.assert_array_equal(reader.spectra()["G_S"][:, 0],
                                  [spectrum_for(row)["G_S"][0] for row in range(n)])


def test_several_live_readers_in_one_process_each_read_what_is_on_disk(tmp_path):
    """HDF5 shares one open file between all handles of a process; readers that refresh in
    turn (and one that does not refresh for a while, and one opened mid-run) must each read
    every row as written by the writer process."""
    path = tmp_path / "run.h5"
    n_planned = 9
    # Files other tests of this process may still hold (a reader not yet collected).
    held_before = shared_file.open_count()
    writer = start_module("tests.storage.stepped_writer_child", str(path), str(n_planned))
    readers: list[RunReader] = []
    try:
        assert read_line(writer) == "ready"
        readers = [RunReader(path, live=True), RunReader(path, live=True)]
        idle = RunReader(path, live=True)  # refreshes only every third row
        readers.append(idle)
        for point in range(n_planned):
            send_line(writer, f"add {point}")
            assert read_line(writer) == "ok"
            if point == 4:
                readers.append(RunReader(path, live=True))  # opened mid-run: sees 5 at once
                _check_rows(readers[-1], 5)
            for reader in readers:
                if reader is not idle or point % 3 == 2:
                    reader.refresh()
                    _check_rows(reader, point + 1)
        send_line(writer, "close")
        assert read_line(writer) == "closed"
        for reader in readers:
            reader.refresh()
            _check_rows(reader, n_planned)
            assert reader.status == "finished"
        with RunReader(path) as fixed:  # a non-live reader opened now sees the finished file
            _check_rows(fixed, n_planned)
        writer.communicate(timeout=TIMEOUT_S)
        assert writer.returncode == 0
    finally:
        for reader in readers:
            reader.close()
        if writer.poll() is None:
            writer.kill()
            writer.communicate(timeout=TIMEOUT_S)
    assert shared_file.open_count() == held_before  # the last reader closed this file


@pytest.mark.parametrize(
    ("after", "step", "last_point"),
    [
        # The writer pauses (event, then status) just after the reader refreshed the events.
        ("entry/events/message", "pause", 2),
        # The writer appends the last point and finishes just after the ledger was refreshed.
        ("entry/ledger", "finish 3", 3),
    ],
)
def test_a_refresh_never_sees_a_status_ahead_of_what_led_to_it(tmp_path, monkeypatch, after,
                                                               step, last_point):
    """The writer acts between two dataset refreshes of one reader refresh; whatever status
    the reader then shows, it also has the event and the rows that came before it."""
    path = tmp_path / "run.h5"
    writer = start_module("tests.storage.stepped_writer_child", str(path), str(last_point + 1))
    refresh = shared_file.SharedFile.refresh
    stepped: list[str] = []

    def refresh_with_a_writer_step(self, names):
        for name in names:
            refresh(self, [name])
            if name == after and not stepped:
                stepped.append(name)
                send_line(writer, step)
                assert read_line(writer) == "ok"

    try:
        assert read_line(writer) == "ready"
        for point in range(3):
            send_line(writer, f"add {point}")
            assert read_line(writer) == "ok"
        with RunReader(path, live=True) as reader:
            monkeypatch.setattr(shared_file.SharedFile, "refresh", refresh_with_a_writer_step)
            n = reader.refresh()
            assert stepped == [after]
            kinds = [e.kind for e in reader.events()]
            if reader.status == "paused":
                assert "pause" in kinds
            if reader.status == "finished":
                assert "finish" in kinds and n == last_point + 1
            monkeypatch.setattr(shared_file.SharedFile, "refresh", refresh)
            n = reader.refresh()  # the next refresh has it all
            assert reader.status == ("paused" if step == "pause" else "finished")
            assert n == (3 if step == "pause" else 4)
        send_line(writer, "close")
        writer.communicate(timeout=TIMEOUT_S)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.communicate(timeout=TIMEOUT_S)
