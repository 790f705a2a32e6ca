"""A reader in another process follows a run live (SWMR) while this process writes it."""

from __future__ import annotations

import json
import signal

from stm_andreev.storage import RunWriter

from .storage_helpers import append_point, new_run
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
