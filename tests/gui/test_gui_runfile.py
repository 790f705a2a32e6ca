"""RunFollower: incremental reads of a growing run file, progress/ETA, banner, writer probe."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.gui.runfile import (
    RunFollower,
    banner_for,
    format_duration,
    writer_alive,
)
from stm_andreev.storage import Event

from .physics_runs import append, create_run, plan_rows


class FakeNow:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_follower_hands_out_only_new_rows_of_a_growing_file(tmp_path):
    rows = plan_rows(n_setpoints=4, temperatures_K=(0.065, 1.0))
    bias = np.linspace(-1.5e-3, 1.5e-3, 41)
    writer = create_run(tmp_path / "grow.h5", len(rows), n_bias=41)
    follower = RunFollower(tmp_path / "grow.h5")
    try:
        assert follower.poll() is None  # nothing confirmed yet
        append(writer, 0, rows[0], bias)
        append(writer, 1, rows[1], bias)
        block = follower.poll()
        assert (block.first, block.n) == (0, 2)
        assert block.table["setpoint_A"] == pytest.approx([rows[0][1], rows[1][1]])
        assert follower.poll() is None
        append(writer, 2, rows[2], bias)
        block = follower.poll()
        assert (block.first, block.n) == (2, 1)
        assert block.G_G0.shape == (1, 41)
        assert follower.status == "running"
        assert writer_alive(tmp_path / "grow.h5")
    finally:
        writer.close("aborted")
        follower.close()
    assert not writer_alive(tmp_path / "grow.h5")


def test_follower_waits_for_a_file_that_does_not_exist_yet(tmp_path):
    follower = RunFollower(tmp_path / "later.h5")
    assert follower.poll() is None
    assert follower.poll_status() is None
    assert not follower.opened


def test_bulk_read_in_chunks_matches_the_file(physics_run):
    follower = RunFollower(physics_run)
    first = follower.poll(max_rows=5)
    rest = follower.poll()
    assert (first.n, rest.first, rest.n) == (5, 5, 14)
    assert follower.poll() is None
    assert follower.status == "finished"
    assert rest.table["step_index"][-1] == 1
    follower.close()


def test_progress_eta_from_the_rate_spectra_arrive(tmp_path):
    rows = plan_rows(n_setpoints=10, temperatures_K=())
    bias = np.linspace(-1.5e-3, 1.5e-3, 21)
    writer = create_run(tmp_path / "eta.h5", len(rows), n_bias=21)
    now = FakeNow()
    follower = RunFollower(tmp_path / "eta.h5", now=now, monotonic=now)
    try:
        append(writer, 0, rows[0], bias)
        follower.poll_status()
        for i in (1, 2):  # two more spectra in 20 s: 0.1 spectrum/s, 7 to go -> 70 s
            now.t += 10.0
            append(writer, i, rows[i], bias)
            follower.poll_status()
        p = follower.progress()
        assert (p.done, p.planned, p.status) == (3, 10, "running")
        assert p.eta_s == pytest.approx(70.0)
    finally:
        writer.close("aborted")
    follower.poll_status()
    assert follower.progress().status == "aborted"
    follower.close()


def _ev(kind: str, message: str = "m", point: int = -1) -> Event:
    return Event(0.0, point, kind, message)


@pytest.mark.parametrize(
    ("status", "events", "level"),
    [
        ("running", [_ev("start")], ""),
        ("paused", [_ev("start"), _ev("pause", "operator pause")], "pause"),
        ("paused", [_ev("start"), _ev("safe_tip", "tip crash", 3), _ev("pause")], "interlock"),
        ("running", [_ev("link_lost"), _ev("pause"), _ev("resume")], ""),
        ("running", [_ev("temperature_ceiling", "2.1 K > 2 K")], "interlock"),
        ("aborted", [_ev("saturation"), _ev("pause"), _ev("abort")], ""),
        ("running", [_ev("start"), _ev("retake", "temperature left its band")], "warning"),
    ],
)
def test_banner_shows_interlocks_until_resumed(status, events, level):
    banner = banner_for(status, events)
    assert banner.level == level
    if level == "interlock":
        assert "safe state" in banner.text


def test_banner_names_the_interlock_and_point():
    banner = banner_for("paused", [_ev("safe_tip", "safe-tip event: tip crashed", 7)])
    assert "safe_tip at point 7" in banner.text and "tip crashed" in banner.text


def test_format_duration():
    assert format_duration(math.nan) == "--"
    assert format_duration(75) == "1m15s"
    assert format_duration(3725) == "1h02m05s"


def test_operator_pause_banner_clears_once_a_newer_spectrum_arrived():
    events = [Event(10.0, -1, "start", ""), Event(50.0, 3, "pause", "operator pause")]
    assert banner_for("paused", events, last_spectrum_time_s=40.0).level == "pause"
    assert banner_for("paused", events, last_spectrum_time_s=70.0).level == ""


def test_retake_warning_clears_once_the_point_is_taken():
    events = [Event(10.0, -1, "start", ""), Event(50.0, 3, "retake", "temperature left its band")]
    assert "temperature left its band" in banner_for("running", events, 40.0).text
    assert banner_for("running", events, 60.0).level == ""
