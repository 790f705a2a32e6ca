"""The LakeShore372 driver against the emulator, in process and in virtual time."""

from __future__ import annotations

import pytest
from pyvisa.errors import VisaIOError

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.interfaces import TemperatureController, TransportBridge
from stm_andreev.drivers.lakeshore372 import (
    PID,
    HeaterRange,
    InputSetup,
    LakeShore372,
    LakeShoreCommandError,
    LakeShoreReadingError,
    OutputMode,
    OutputSetup,
    Polarity,
    Ramp,
    ReadingStatus,
    Scanner,
    StandardEvent,
    TempCoefficient,
)
from stm_andreev.drivers.lakeshore372_adapters import (
    LakeShoreTemperatureControl,
    LakeShoreTransportBridge,
)
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter

SETTLE_S = 13.0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock: VirtualClock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock)


@pytest.fixture
def ls(lab: VirtualLab, clock: VirtualClock) -> LakeShore372:
    emulator = LakeShore372Emulator(lab, seed=5, scan_channel=1)
    adapter = EmulatorAdapter(emulator, clock=clock, write_termination="\r\n",
                              read_termination="\r\n")
    instrument = LakeShore372(adapter)
    instrument.standard_event_status  # noqa: B018  (clears the power-on bit)
    return instrument


def test_identity(ls: LakeShore372) -> None:
    assert ls.identity.model == "MODEL372"
    assert ls.id.startswith("LSCI,MODEL372,")


def test_settings_round_trip(ls: LakeShore372, lab: VirtualLab) -> None:
    setup = OutputSetup(OutputMode.CLOSED_LOOP, 6, True, Polarity.UNIPOLAR, True, 3)
    ls.sample_heater.setup = setup
    ls.sample_heater.pid = PID(150.0, 40.0, 0.0)
    ls.sample_heater.ramp = Ramp(True, 0.5)
    ls.sample_heater.setpoint = 0.3
    ls.sample_heater.manual_output = 12.5
    ls.sample_heater.heater_range = HeaterRange.I_3_16_mA
    assert ls.sample_heater.setup == setup
    assert ls.sample_heater.pid == PID(150.0, 40.0, 0.0)
    assert ls.sample_heater.ramp == Ramp(True, 0.5)
    assert ls.sample_heater.setpoint == pytest.approx(0.3)
    assert ls.sample_heater.manual_output == pytest.approx(12.5)
    assert ls.sample_heater.heater_range is HeaterRange.I_3_16_mA
    assert lab.fridge.control_channel == 6
    assert lab.fridge.heater_range == 5

    inset = InputSetup(True, 5, 4, 6, TempCoefficient.POSITIVE)
    ls.ch_6.setup = inset
    assert ls.ch_6.setup == inset
    ls.scanner = Scanner(6, False)
    assert ls.scanner == Scanner(6, False)

    ls.still_heater.setup = OutputSetup(OutputMode.OPEN_LOOP, 0, False, Polarity.UNIPOLAR,
                                        False, 1)
    ls.still_heater.heater_range = True
    ls.still_heater.manual_output = 30.0
    assert ls.still_heater.heater_range is True
    assert ls.still_heater.output == pytest.approx(30.0)
    assert ls.still_heater.ramping is False


def test_setting_refused_by_the_instrument_raises(ls: LakeShore372, lab: VirtualLab) -> None:
    # No thermometer on channel 4: the emulated 372 refuses to close the loop on it.
    with pytest.raises(LakeShoreCommandError, match=r"OUTMODE 0,5,4.*execution error"):
        ls.sample_heater.setup = OutputSetup(OutputMode.CLOSED_LOOP, 4, False,
                                             Polarity.UNIPOLAR, False, 1)
    assert ls.standard_event_status == StandardEvent(0)


def test_unanswered_query_times_out_then_esr_names_it(ls: LakeShore372) -> None:
    with pytest.raises(VisaIOError):
        ls.ask("KRDG? 17")
    with pytest.raises(LakeShoreCommandError, match="query error"):
        ls.check_errors()


def test_reading_status_follows_the_scanner(ls: LakeShore372, clock: VirtualClock) -> None:
    ls.scanner = Scanner(6, False)
    assert ls.ch_6.reading_status == ReadingStatus.R_UNDER | ReadingStatus.T_UNDER
    clock.advance(SETTLE_S)
    assert ls.ch_6.reading_status == ReadingStatus(0)


def test_temperature_control_adapter(
    ls: LakeShore372, lab: VirtualLab, clock: VirtualClock
) -> None:
    control = LakeShoreTemperatureControl(ls, channels={"mixing chamber": 6, "control": "A"})
    assert isinstance(control, TemperatureController)
    wait_s = control.scan("mixing chamber")
    assert wait_s == SETTLE_S
    assert ls.scanner == Scanner(6, False)
    with pytest.raises(LakeShoreReadingError, match="channel 6"):
        control.temperature("mixing chamber")
    clock.advance(wait_s)
    true_K = lab.fridge.temperature_K("mixing chamber")
    assert control.temperature("mixing chamber") == pytest.approx(true_K, rel=1e-3)
    assert control.temperature("control") == pytest.approx(true_K, rel=1e-3)
    assert control.temperature(6) == pytest.approx(true_K, rel=1e-3)
    with pytest.raises(KeyError, match="mixing chamber"):
        control.temperature("still plate")

    ls.sample_heater.setup = OutputSetup(OutputMode.OFF, "A", False, Polarity.UNIPOLAR,
                                         False, 1)
    control.set_control(0.3, 5, (150.0, 40.0, 0.0))
    assert ls.sample_heater.setup.mode is OutputMode.CLOSED_LOOP
    assert ls.sample_heater.setup.input == "A"
    clock.advance(1800.0)
    assert control.temperature("control") == pytest.approx(0.3, abs=0.01)
    assert control.heater_output() > 0.0
    control.heater_off()
    assert lab.fridge.heater_range == 0
    assert control.heater_output() == 0.0


def test_transport_bridge_reads_the_film(
    ls: LakeShore372, lab: VirtualLab, clock: VirtualClock
) -> None:
    bridge = LakeShoreTransportBridge(ls, 9)
    assert isinstance(bridge, TransportBridge)
    lab.fridge.start_cooldown(from_K=20.0)
    ls.scanner = Scanner(9, False)
    with pytest.raises(LakeShoreReadingError, match="R_UNDER"):
        bridge.resistance()
    clock.advance(SETTLE_S)
    truth = lab.fridge.sensor_resistance_ohm("film")
    assert truth > 0
    assert bridge.resistance() == pytest.approx(truth, rel=1e-3)


def test_transport_bridge_rejects_open_input(ls: LakeShore372, clock: VirtualClock) -> None:
    bridge = LakeShoreTransportBridge(ls, 4)
    ls.scanner = Scanner(4, False)
    clock.advance(SETTLE_S)
    with pytest.raises(LakeShoreReadingError, match="CS_OVERLOAD"):
        bridge.resistance()


@pytest.mark.parametrize("bad", [0, 17, "B", True])
def test_adapters_reject_bad_channels(ls: LakeShore372, bad: object) -> None:
    with pytest.raises(ValueError):
        LakeShoreTransportBridge(ls, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LakeShoreTemperatureControl(ls, channels={"x": bad})  # type: ignore[dict-item]


def test_temperature_control_rejects_bad_output(ls: LakeShore372) -> None:
    with pytest.raises(ValueError, match="output"):
        LakeShoreTemperatureControl(ls, control_output=3)


def test_warmup_heater_as_control_output(ls: LakeShore372) -> None:
    control = LakeShoreTemperatureControl(ls, control_output=1)
    ls.warmup_heater.setup = OutputSetup(OutputMode.OPEN_LOOP, 0, False, Polarity.UNIPOLAR,
                                         False, 1)
    ls.warmup_heater.manual_output = 40.0
    ls.warmup_heater.heater_range = True
    assert control.heater_output() == pytest.approx(40.0)
    control.heater_off()
    assert control.heater_output() == 0.0


def test_heaters_off(ls: LakeShore372, lab: VirtualLab) -> None:
    ls.sample_heater.heater_range = 4
    ls.warmup_heater.heater_range = True
    ls.heaters_off()
    assert lab.fridge.heater_range == 0
    assert ls.warmup_heater.heater_range is False


def test_cooldown_r_of_t_shows_the_transition(
    ls: LakeShore372, lab: VirtualLab, clock: VirtualClock
) -> None:
    """The film's R(T) through the bridge during a cooldown: resistive, then zero below Tc."""
    bridge = LakeShoreTransportBridge(ls, 9)
    control = LakeShoreTemperatureControl(ls, channels={"film": 9})
    wait_s = control.scan("film")
    lab.fridge.start_cooldown(from_K=300.0)
    clock.advance(wait_s)
    Tc_K = lab.sample.Tc_K
    points = []
    for _ in range(60):
        clock.advance(600.0)
        points.append((lab.fridge.temperature_K("film"), bridge.resistance()))
    above = [R for T, R in points if T > 1.5 * Tc_K]
    below = [R for T, R in points if T < 0.5 * Tc_K]
    assert above and below, points
    assert min(above) > 100.0
    assert max(abs(R) for R in below) < 0.01


def test_snapshot_is_plain_data(ls: LakeShore372, lab: VirtualLab) -> None:
    import json

    ls.sample_heater.setpoint = 0.25
    ls.sample_heater.pid = PID(150.0, 40.0, 0.0)
    snap = ls.snapshot(inputs=["A", 6])
    assert json.loads(json.dumps(snap)) == snap
    assert snap["identity"].startswith("LSCI,MODEL372")
    heater = snap["outputs"]["sample_heater"]
    assert heater["setpoint_K"] == pytest.approx(0.25)
    assert heater["pid"] == [150.0, 40.0, 0.0]
    assert heater["mode"] == lab.fridge.output_mode
    assert heater["ramp_enabled"] is False
    assert set(snap["inputs"]) == {"A", "6"}
    assert snap["inputs"]["6"]["dwell_s"] == 10
    assert snap["inputs"]["A"]["units"] == 1
    assert len(ls.snapshot()["inputs"]) == 17


def test_reading_error_hints_at_the_scanner(ls: LakeShore372) -> None:
    bridge = LakeShoreTransportBridge(ls, 9)
    with pytest.raises(LakeShoreReadingError, match="has not measured yet"):
        bridge.resistance()
