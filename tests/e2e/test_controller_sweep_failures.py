"""A controller-run sweep that ends badly: a tip crash, a lost link. The interlock must win
over a re-take, and a sweep the main link lost must be stopped on the controller."""

from __future__ import annotations

import pytest

from stm_andreev.procedures import SafeTipEvent, take_spectrum
from stm_andreev.procedures.errors import RetakeNeeded
from stm_andreev.station import Station

from ..shared import short_settings
from .conftest import station_config

SAFE_TIP_STATUS = 5


@pytest.fixture
def station():
    station = Station.from_config(station_config(), source_text="test")
    yield station
    station.close()


@pytest.mark.parametrize("mode", ["controller", "controller_lockin"])
@pytest.mark.parametrize("aborting", [False, True])
def test_a_crash_that_ends_the_sweep_early_is_a_safe_tip_event(station, mode, aborting):
    real = station.feedback.bias_spectroscopy

    def crashing_sweep(*args, **kwargs):
        # The tip crashes mid-sweep: the controller withdraws (status 5) and returns the
        # points measured until then.
        data = real(*args, **kwargs)
        with station.lab.lock:
            station.lab._junction.crash(station.clock.now(), "crash mid-sweep")
        return {name: values[:5] for name, values in data.items()}

    station.feedback.bias_spectroscopy = crashing_sweep
    with pytest.raises(SafeTipEvent):
        take_spectrum(station, 1e-9, short_settings(mode, integration_s=0.01),
                      abort_requested=lambda: aborting)
    # The tip is left where the controller put it: closing the loop would clear the event.
    assert station.feedback.feedback_status() == SAFE_TIP_STATUS


def test_a_short_sweep_without_a_crash_is_retaken(station):
    real = station.feedback.bias_spectroscopy
    station.feedback.bias_spectroscopy = lambda *a, **k: {
        name: values[:5] for name, values in real(*a, **k).items()}
    with pytest.raises(RetakeNeeded):
        take_spectrum(station, 1e-9, short_settings("controller", integration_s=0.01),
                      abort_requested=lambda: False)
    assert station.lab.feedback_on and station.lab.bias_V == pytest.approx(-3e-3)


def test_a_sweep_the_main_link_lost_is_stopped_on_the_controller(station):
    stops = []

    def lost_link(*args, **kwargs):
        raise ConnectionError("link dropped mid-sweep")

    station.feedback.bias_spectroscopy = lost_link
    stopper = station.sweep_stopper()
    real_stop = stopper.stop_bias_spectroscopy
    stopper.stop_bias_spectroscopy = lambda: (stops.append(True), real_stop())[1]
    with pytest.raises(ConnectionError):
        take_spectrum(station, 1e-9, short_settings("controller", integration_s=0.01),
                      abort_requested=lambda: False)
    assert stops == [True]
    assert station.lab.feedback_on  # the safe state after the failure: loop closed at V_sp


def test_the_stop_link_is_opened_while_the_loop_is_still_closed(station):
    """Trying the stop link's ports can take a timeout each: never with the tip at fixed z."""
    seen = []

    class SlowPort:
        def open(self):
            seen.append(station.lab.feedback_on)
            raise OSError("port held by another client")

        def describe(self) -> str:
            return "slow port"

    station.stop_link._candidates = [SlowPort(), SlowPort()]
    take_spectrum(station, 1e-9, short_settings("controller", integration_s=0.01),
                  abort_requested=lambda: False)
    assert seen == [True, True]
