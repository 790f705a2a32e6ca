"""The run's control file against junk: huge lines, floods of junk, bytes that are not UTF-8,
and an overwrite instead of an append.

Found: a 50 MB line was logged whole in one warning and slowed the run 8x; 10,000 junk lines
flooded the log; one non-UTF-8 byte raised UnicodeDecodeError in the poll, which ended the run;
``echo resume > RUN.h5.control`` (an overwrite) was ignored.
"""

from __future__ import annotations

import logging

import pytest

from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.engine.control import MAX_POLL_BYTES, control_path
from stm_andreev.storage import RunReader

from .conftest import N_POINTS, build_run

pytestmark = [pytest.mark.faults, pytest.mark.hostile]


def append(run_path, data: bytes) -> None:
    with open(control_path(run_path), "ab") as f:
        f.write(data)


def test_a_byte_that_is_not_utf8_is_tolerated(tmp_path, caplog):
    run = tmp_path / "run.h5"
    control = RunControl(run)
    append(run, b"pause\xe9\n")
    with caplog.at_level(logging.WARNING):
        control.poll()  # used to raise UnicodeDecodeError
    assert not control.paused and "unknown run command" in caplog.text
    append(run, b"pause\n")
    control.poll()
    assert control.paused


def test_an_overwritten_control_file_is_read_again(tmp_path):
    run = tmp_path / "run.h5"
    control = RunControl(run)
    append(run, b"pause\n")
    control.poll()
    assert control.paused
    control_path(run).write_text("resume\n")  # echo resume > RUN.h5.control
    control.poll()
    assert not control.paused
    control_path(run).write_text("abort\n")  # shorter than what was read: truncation
    control.poll()
    assert control.abort_requested


def test_history_ending_mid_line_is_not_replayed(tmp_path):
    run = tmp_path / "run.h5"
    append(run, b"abort\npau")  # an earlier process's commands, the last one cut short
    control = RunControl(run)
    control.poll()
    assert not control.abort_requested and not control.paused
    append(run, b"\npause\n")
    control.poll()
    assert control.paused and not control.abort_requested


def test_a_50_mb_line_is_skipped_in_bounded_polls_and_logged_once(tmp_path, caplog):
    run = tmp_path / "run.h5"
    control = RunControl(run)
    append(run, b"x" * 50_000_000 + b"\nabort\n")
    polls = 0
    with caplog.at_level(logging.WARNING):
        while not control.abort_requested and polls < 1000:
            control.poll()
            polls += 1
    assert control.abort_requested
    assert polls <= 50_000_000 // MAX_POLL_BYTES + 3
    assert len(caplog.records) <= 2
    assert all(len(r.getMessage()) < 500 for r in caplog.records)


def test_10000_junk_lines_leave_the_log_bounded(tmp_path, caplog):
    run = tmp_path / "run.h5"
    control = RunControl(run)
    append(run, b"".join(b"junk %d\n" % i for i in range(10_000)) + b"abort\n")
    with caplog.at_level(logging.WARNING):
        for _ in range(200):
            control.poll()
            if control.abort_requested:
                break
    assert control.abort_requested
    assert len(caplog.records) <= 10, len(caplog.records)


def test_a_run_with_junk_in_its_control_file_finishes(tmp_path, outcome):
    """A real (virtual-clock) run whose control file receives a non-UTF-8 byte, a 5 MB line and
    10,000 junk lines before it starts: it finishes every spectrum, the log stays short."""
    outcome.fault, outcome.instrument = "junk in the control file (non-UTF-8, 5 MB line, " \
        "10,000 lines)", "control file"
    station, points, writer = build_run(tmp_path)
    control = RunControl(writer.path)
    append(writer.path, b"pause\xe9\n" + b"y" * 5_000_000 + b"\n"
           + b"".join(b"junk %d\n" % i for i in range(10_000)))
    outcome.injections = 3
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("stm_andreev.engine.control").addHandler(handler)
    try:
        summary = RunEngine(station, points, writer, control=control).run()
    finally:
        logging.getLogger("stm_andreev.engine.control").removeHandler(handler)
        station.close()
    assert summary.status == "finished"
    with RunReader(writer.path) as stored:
        outcome.spectra_stored = len(set(int(p) for p in stored.ledger))
    assert outcome.spectra_stored == N_POINTS
    assert len(records) <= 10 and all(len(r.getMessage()) < 500 for r in records)
    outcome.happened = (f"run finished all spectra; {len(records)} warning lines logged, none "
                        "over 500 characters")
