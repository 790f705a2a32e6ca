"""Wire faults on each simulated instrument during a dry run: dropped links, stalls, garbage.

The run must recover (reconnect and re-take the point), never store a bad reading as data,
and end with every planned spectrum exactly once and close to the fault-free spectra.
"""

from __future__ import annotations

import logging

import pytest

from .conftest import (
    MESSAGES_AFTER_SPECTRUM,
    MID_SWEEP,
    N_POINTS,
    assert_complete_and_plausible,
    build_run,
    dry_run,
)

pytestmark = pytest.mark.faults

INSTRUMENTS = ("lockin", "stm", "fridge")


def test_message_counts_are_as_planned(tmp_path):
    """The triggers of this suite sit inside spectrum 1 only while these counts hold."""
    from stm_andreev.engine import RunEngine

    from .conftest import ScriptedControl

    station, points, writer = build_run(tmp_path, [
        {"kind": "garble", "instrument": name, "after_commands": 10**6} for name in INSTRUMENTS
    ])
    seen: list[dict[str, int]] = []
    RunEngine(
        station, points, writer, control=ScriptedControl(),
        on_spectrum=lambda p, s: seen.append(
            {n: w.messages for n, w in station.fault_wrappers.items()}
        ),
    ).run()
    station.close()
    assert len(seen) == N_POINTS
    for name, counts in MESSAGES_AFTER_SPECTRUM.items():
        assert tuple(s[name] for s in seen) == counts, name


@pytest.mark.parametrize("instrument", ["lockin", "fridge"])
def test_dropped_connection_mid_sweep_is_recovered(tmp_path, reference, outcome, instrument):
    """pymeasure drivers raise on the drop; the engine reconnects and re-takes the point."""
    fault = {"kind": "drop_connection", "instrument": instrument,
             "after_commands": MID_SWEEP[instrument]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "drop_connection (mid-sweep)", instrument
    assert run.error is None, run.error
    assert run.injected.get(instrument) == 1
    assert run.status == "finished"
    link_errors = [e for e in run.events if e[0] == "link_error"]
    assert len(link_errors) == 1 and link_errors[0][1] == 1, run.events
    assert "pause" not in run.event_kinds  # a retry, not an operator's job
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("link error logged, station reconnected, point re-taken; "
                          "run finished")


def test_dropped_nanonis_link_is_reopened_by_the_driver(tmp_path, reference, outcome, caplog):
    """The Nanonis driver re-opens a dropped link and re-sends the (repeatable) command."""
    fault = {"kind": "drop_connection", "instrument": "stm", "after_commands": MID_SWEEP["stm"]}
    with caplog.at_level(logging.WARNING, logger="stm_andreev.drivers.nanonis"):
        run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "drop_connection (mid-sweep)", "stm"
    assert run.error is None, run.error
    assert run.injected.get("stm") == 1
    assert run.status == "finished"
    assert any("reconnecting" in r.getMessage() for r in caplog.records)
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("driver re-opened the link and re-sent the command; run finished")


def test_nanonis_link_down_longer_than_driver_retries(tmp_path, reference, outcome):
    """Three drops in a row exhaust the driver's two reconnects: the engine takes over."""
    fault = {"kind": "drop_connection", "instrument": "stm",
             "after_commands": MID_SWEEP["stm"], "count": 3}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "drop_connection x3 in a row (mid-sweep)", "stm"
    assert run.error is None, run.error
    assert run.injected.get("stm") == 3
    assert run.status == "finished"
    link_errors = [e for e in run.events if e[0] == "link_error"]
    assert len(link_errors) == 1 and link_errors[0][1] == 1, run.events
    assert "NanonisConnectionError" in link_errors[0][2]
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("driver gave up after 2 reconnects; engine logged a link error, "
                          "reconnected and re-took the point")


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_stalled_reply_times_out_and_is_retried(tmp_path, reference, outcome, instrument):
    fault = {"kind": "stall", "instrument": instrument, "after_commands": MID_SWEEP[instrument]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "stall (reply never comes)", instrument
    assert run.error is None, run.error
    assert run.injected.get(instrument) == 1
    assert run.status == "finished"
    assert "link_error" in run.event_kinds, run.events
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("read timed out, link error logged, point re-taken; run finished")


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_garbled_reply_is_retried_not_stored(tmp_path, reference, outcome, instrument):
    fault = {"kind": "garble", "instrument": instrument, "after_commands": MID_SWEEP[instrument]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "garbled reply", instrument
    assert run.error is None, run.error
    assert run.injected.get(instrument) == 1
    assert run.status == "finished"
    assert "link_error" in run.event_kinds, run.events
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("reply failed to parse, link error logged, point re-taken; "
                          "nothing garbled stored")


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_late_reply_is_not_taken_for_the_next_answer(tmp_path, reference, outcome, instrument):
    """The reply comes 30 s late (after the read timed out) and is still queued on the link:
    the engine's reconnect must flush it, or every later reading would be off by one."""
    fault = {"kind": "delay", "instrument": instrument, "after_commands": MID_SWEEP[instrument],
             "delay_s": 30.0}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "late reply (30 s, after the timeout)", instrument
    assert run.error is None, run.error
    assert run.injected.get(instrument) == 1
    assert run.status == "finished"
    link_errors = [e for e in run.events if e[0] == "link_error"]
    assert len(link_errors) == 1 and link_errors[0][1] == 1, run.events
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("read timed out, link error logged, link reset (stale reply dropped), "
                        "point re-taken; later readings in step")
