"""Cooldown sampling through the real Lake Shore driver on the simulated lab; the dashboard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.gui.cooldown import (
    AlarmBand,
    CooldownHistory,
    Sample,
    SamplerError,
    SimulatedCooldown,
    StationSampler,
)
from stm_andreev.gui.dashboard import CooldownDashboard
from stm_andreev.station import Station


@pytest.fixture
def station():
    with Station.load("simulated") as s:
        yield s


def test_sampler_reads_control_input_live_and_scanner_channels_only_after_settling(station):
    sampler = StationSampler(station)
    assert sampler.live_names == ["mixing_chamber"]
    assert sampler.scan_names == ["still", "cold_plate", "mixing_chamber_scanner", "film"]
    first = sampler.sample()
    assert set(first.temperatures_K) == {"mixing_chamber"}  # scanner just moved to "still"
    assert first.temperatures_K["mixing_chamber"] == pytest.approx(0.05, abs=0.01)
    assert first.heater_pct == 0.0 and not first.errors
    due = sampler.next_due_s()
    assert due - station.clock.now() == pytest.approx(13.0)  # 3 s pause + 10 s dwell
    early = sampler.sample()  # not settled: the still is not read
    assert "still" not in early.temperatures_K
    station.clock.advance(due - station.clock.now())
    settled = sampler.sample()
    assert settled.temperatures_K["still"] == pytest.approx(0.8, rel=0.05)
    assert station.temperature.ls.scanner.channel == 5  # moved on to the cold plate


def test_sampler_reads_the_film_through_the_transport_bridge(station):
    sampler = StationSampler(station)
    film_reads = []
    for _ in range(6):
        sampler.sample()
        station.clock.advance(13.0)
        s = sampler.sample()
        if s.film_ohm is not None:
            film_reads.append(s.film_ohm)
    assert film_reads and abs(film_reads[0]) < 0.05  # superconducting at base
    assert "film" not in sampler.thermometer_names


def test_simulated_cooldown_reads_every_channel_while_the_fridge_cools(station):
    cooldown = SimulatedCooldown(station, seconds_per_tick=120.0)
    history = CooldownHistory("mixing_chamber")
    for _ in range(3):
        for sample in cooldown.tick():
            history.add(sample)
    assert station.clock.now() == pytest.approx(360.0)
    for name in ("mixing_chamber", "still", "cold_plate", "mixing_chamber_scanner", "film"):
        assert history.latest(name) is not None, name
    assert 250 < history.latest("mixing_chamber") < 300
    assert history.latest("film") > 1000  # insulating-like film far above Tc
    assert history.cooling_rate_K_per_min() < 0
    assert not history.errors


def test_simulated_cooldown_needs_the_inprocess_lab():
    class RealStation:
        lab = None
        clock = object()
        config = type("C", (), {"name": "lab"})()

    with pytest.raises(SamplerError, match="in-process simulated"):
        SimulatedCooldown(RealStation())


def _samples(values_K, dt=60.0, **extra):
    return [Sample(i * dt, {"mc": T}, **extra) for i, T in enumerate(values_K)]


def test_history_cooling_rate_is_the_recent_slope():
    history = CooldownHistory("mc")
    for s in _samples([20.0 - 0.5 * i for i in range(20)]):  # -0.5 K per minute
        history.add(s)
    assert history.cooling_rate_K_per_min() == pytest.approx(-0.5)


def test_history_time_to_base_extrapolates_the_log_rate():
    history = CooldownHistory("mc", base_K=0.1)
    for s in _samples([10.0 * math.exp(-i / 10) for i in range(5)]):
        history.add(s)
    # T = 10 exp(-t/600 s): ln(T/0.1) * 600 s to go
    T_end = 10.0 * math.exp(-0.4)
    assert history.time_to_base_s() == pytest.approx(600 * math.log(T_end / 0.1), rel=1e-6)
    history.add(Sample(300.0, {"mc": 0.09}))
    assert history.time_to_base_s() == 0.0


def test_alarm_only_once_the_value_was_inside_its_band():
    history = CooldownHistory("mc", bands={"mc": AlarmBand("mc", high=2.0)})
    history.add(Sample(0, {"mc": 300.0}))
    assert not history.alarms  # cooling down from room temperature: not armed yet
    history.add(Sample(60, {"mc": 1.0}))
    history.add(Sample(120, {"mc": 2.5}))
    assert "above" in history.alarms["mc"]
    history.add(Sample(180, {"mc": 1.5}))
    assert not history.alarms
    history.add(Sample(240, {"mc": 1.5}, heater_pct=99.0))
    assert "heater saturated" in history.alarms


class ScriptedSampler:
    """A sampler replaying fixed readings (the dashboard alone, without a station)."""

    thermometer_names = ["mc", "still"]

    def __init__(self, script):
        self.script = list(script)

    def tick(self):
        return [self.script.pop(0)] if self.script else []


def test_dashboard_plots_and_reports_alarm(qtbot):
    script = [
        Sample(0.0, {"mc": 4.0, "still": 4.0}, film_ohm=4000.0, heater_pct=0.0),
        Sample(3600.0, {"mc": 1.0}, film_ohm=0.0, heater_pct=10.0),
        Sample(7200.0, {"mc": 3.0}, errors={"still": "LakeShoreReadingError: overload"}),
    ]
    board = CooldownDashboard(ScriptedSampler(script), bands={"mc": AlarmBand("mc", high=2.0)})
    qtbot.addWidget(board)
    board.tick_once()
    board.tick_once()
    curve = board.curves["mc"]
    assert list(curve.xData) == [0.0, 1.0]  # hours since the first reading
    assert list(curve.yData) == [4.0, 1.0]  # kelvin (the axis takes the log)
    film = board.curves["film"].yData
    assert film[-1] == pytest.approx(1e-2)  # zero drawn at the log-axis floor
    assert "superconducting" in board.value_labels["film"].text()
    assert "no alarm" in board.alarm_label.text()
    board.tick_once()
    assert "ALARM" in board.alarm_label.text()
    assert "mc = 3 above" in board.alarm_label.text()
    assert "overload" in board.alarm_label.text()


def test_dashboard_shows_a_failing_sampler_instead_of_crashing(qtbot):
    class Broken:
        thermometer_names = ["mc"]

        def tick(self):
            raise ConnectionError("Lake Shore unreachable")

    board = CooldownDashboard(Broken())
    qtbot.addWidget(board)
    board.tick_once()
    assert "unreachable" in board.alarm_label.text()


def test_dashboard_on_the_simulated_station_timer(qtbot, station):
    board = CooldownDashboard(SimulatedCooldown(station, seconds_per_tick=60.0),
                              control_name="mixing_chamber", interval_ms=10)
    qtbot.addWidget(board)
    board.start()
    qtbot.waitUntil(lambda: len(board.history.arrays("still")[0]) >= 2, timeout=20_000)
    board.stop()
    assert board.value_labels["mixing_chamber"].text().endswith("K")
    assert "mK/min" in board.value_labels["rate"].text() or "K/min" in \
        board.value_labels["rate"].text()


def test_simulated_cooldown_pauses_while_its_tab_is_hidden(qtbot):
    script = [Sample(float(i), {"mc": 4.0}) for i in range(3)]
    board = CooldownDashboard(ScriptedSampler(script), run_when_hidden=False)
    qtbot.addWidget(board)
    board._on_timer()
    assert board.history.latest("mc") is None  # not on screen: no fridge time spent
    board.show()
    qtbot.waitExposed(board)
    board._on_timer()
    assert board.history.latest("mc") == 4.0


def test_threaded_dashboard_samples_the_simulated_station_off_the_gui_thread(qtbot, station):
    import threading

    threads = set()
    cooldown = SimulatedCooldown(station, seconds_per_tick=60.0)
    tick = cooldown.tick

    def recording_tick():
        threads.add(threading.current_thread().name)
        return tick()

    cooldown.tick = recording_tick
    board = CooldownDashboard(cooldown, control_name="mixing_chamber", interval_ms=10,
                              threaded=True)
    qtbot.addWidget(board)
    board.start()
    try:
        qtbot.waitUntil(lambda: len(board.history.arrays("still")[0]) >= 2, timeout=20_000)
    finally:
        board.stop()
    assert threading.current_thread().name not in threads
    assert board.history.latest("mixing_chamber") > 200


def test_threaded_dashboard_reports_a_failing_sampler(qtbot):
    class Broken:
        thermometer_names = ["mc"]

        def tick(self):
            raise TimeoutError("VI_ERROR_TMO: Lake Shore did not answer")

    board = CooldownDashboard(Broken(), interval_ms=10, threaded=True)
    qtbot.addWidget(board)
    board.start()
    try:
        qtbot.waitUntil(lambda: "VI_ERROR_TMO" in board.alarm_label.text(), timeout=5_000)
    finally:
        board.stop()


@pytest.fixture(scope="module")
def cooldown_log(tmp_path_factory):
    """A cooldown log written by ``stm-andreev cooldown`` (simulated fridge from 10 K)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("cooldown")
    result = subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "cooldown", "--from-K", "10",
         "--interval-s", "120", "--max-duration-s", "14400", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 3), result.stderr
    (path,) = out.glob("*.h5")
    return path


def test_cooldown_log_replays_into_the_dashboard(qtbot, cooldown_log):
    from stm_andreev.gui.cooldown import CooldownFileSampler

    sampler = CooldownFileSampler(cooldown_log)
    assert "mixing_chamber" in sampler.thermometer_names
    board = CooldownDashboard(sampler, control_name="mixing_chamber")
    qtbot.addWidget(board)
    board.tick_once()
    t, T = board.history.arrays("mixing_chamber")
    assert T[0] == pytest.approx(10.0, rel=0.2) and T[-1] < 1.0  # cooled from 10 K
    assert np.all(np.diff(t) >= 0)
    _, R = board.history.arrays("film")
    assert R.size and R.max() > 1000  # normal state before the superconducting drop
    board.tick_once()  # nothing new in a finished log
    assert board.history.arrays("mixing_chamber")[0].size == t.size
    assert sampler.status == "finished"


def test_browser_opens_a_cooldown_log_in_its_own_tab(qtbot, cooldown_log, tmp_path):
    from stm_andreev.gui.browse import BrowseWidget, describe_run

    name, plan, status, count, _ = describe_run(cooldown_log)
    assert (plan, status) == ("cooldown", "finished") and count.endswith("readings")
    browser = BrowseWidget(cooldown_log.parent)
    qtbot.addWidget(browser)
    with qtbot.waitSignal(browser.open_cooldown_requested) as signal:
        browser.open_row(0)
    assert signal.args == [str(cooldown_log)]


def test_main_window_shows_a_cooldown_log_from_the_browser(qtbot, cooldown_log, tmp_path):
    from stm_andreev.gui.app import GuiOptions, build_gui

    gui = build_gui(GuiOptions(queue=str(tmp_path / "q.json"), runs=str(cooldown_log.parent)))
    window = gui.window
    qtbot.addWidget(window)
    try:
        window.browse.open_row(0)
        board = window.tabs.currentWidget()
        assert window.tabs.tabText(window.tabs.currentIndex()).startswith("Cooldown log")
        assert board.history.latest("mixing_chamber") < 1.0
    finally:
        gui.close()
