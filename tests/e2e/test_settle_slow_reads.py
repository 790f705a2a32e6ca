"""A settle wait whose own readings cost station time still sees the settling.

Found: the default plan over TCP at speed-up 1000 paused on "tip height z did not settle within
30 s" on a loaded machine. One reading over TCP is ~1 s of station time there, and a scheduling
stall of 43 ms wall was 43 s of station time between the wait's first and second reading: the
wait declared a timeout after two readings, the tip long settled. The station clock here is
virtual; a reading that takes 40 s of it is the same event without depending on wall time.
"""

from __future__ import annotations

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.procedures.errors import SettleTimeout
from stm_andreev.procedures.spectroscopy import Z_POLL_S, take_spectrum
from stm_andreev.procedures.timing import looks_needed, wait_until_stable
from stm_andreev.station import Station

from .conftest import station_config
from .test_setpoint_ramp import settings_for

STALL_S = 40.0  # longer than the tip-height timeout (30 s)


def slow_reader(clock: VirtualClock, values, stall_at: set[int]):
    """read() returning ``values(i)`` at its i-th call; calls in ``stall_at`` take STALL_S."""
    calls = {"n": 0}

    def read() -> float:
        i = calls["n"]
        calls["n"] += 1
        if i in stall_at:
            clock.sleep(STALL_S)
        return values(i)

    return read, calls


def test_one_slow_reading_does_not_end_a_settled_wait():
    clock = VirtualClock()
    # z still moving at the first reading, then settled; the second reading takes 40 s.
    read, calls = slow_reader(clock, lambda i: 1e-9 if i == 0 else 2e-9, stall_at={1})
    value = wait_until_stable(clock, read, target=None, tolerance=1e-12, dwell_s=2 * Z_POLL_S,
                              timeout_s=30.0, poll_s=Z_POLL_S, what="tip height z")
    assert value == 2e-9
    assert calls["n"] <= looks_needed(2 * Z_POLL_S, Z_POLL_S)


def test_a_value_that_never_settles_still_times_out_bounded():
    clock = VirtualClock()
    read, calls = slow_reader(clock, lambda i: i * 1e-9, stall_at={1})  # drifts for ever
    with pytest.raises(SettleTimeout, match=r"tip height z did not settle within 30 s .*"
                                            r"readings over"):
        wait_until_stable(clock, read, target=None, tolerance=1e-12, dwell_s=2 * Z_POLL_S,
                          timeout_s=30.0, poll_s=Z_POLL_S, what="tip height z")
    assert calls["n"] == looks_needed(2 * Z_POLL_S, Z_POLL_S)  # the stall used up the time
    clock = VirtualClock()
    read, calls = slow_reader(clock, lambda i: i * 1e-9, stall_at=set())
    with pytest.raises(SettleTimeout):
        wait_until_stable(clock, read, target=None, tolerance=1e-12, dwell_s=2 * Z_POLL_S,
                          timeout_s=30.0, poll_s=Z_POLL_S, what="tip height z")
    # without stalls the timeout is station time, as before: 30 s of 50 ms polls
    assert calls["n"] == pytest.approx(30.0 / Z_POLL_S + 2, abs=2)


def test_a_spectrum_whose_tip_height_reading_stalls_is_taken():
    """Through the real driver and emulator: the z reading in the settle takes 40 s once."""
    station = Station.from_config(station_config(), source_text="test")
    try:
        fb, clock = station.feedback, station.clock
        get_z = fb.get_z
        stalled = {"done": False}

        def slow_get_z() -> float:
            value = get_z()
            if not stalled["done"]:  # the settle's first reading, then 40 s pass
                stalled["done"] = True
                clock.sleep(STALL_S)
            return value

        fb.get_z = slow_get_z
        spectrum = take_spectrum(station, 1e-7, settings_for(1e-7, 0.1))
        assert stalled["done"]
        assert spectrum.record["z_m"] == pytest.approx(get_z(), abs=1e-11)
    finally:
        station.close()
