"""pymeasure's SR830 / SR860 and our subclasses against the emulators, in process.

The lab's lock-in is the scripted stand-in of ``test_srs_parser`` (fixed X, Y), so these tests
check that everything the drivers send is understood and round-trips; the physics is checked
against the real VirtualLab in ``test_srs_lab.py``.
"""

from __future__ import annotations

import warnings

import pytest
from pymeasure.instruments.srs import SR830, SR860

from stm_andreev.drivers.interfaces import LockIn
from stm_andreev.drivers.lockin import SR830LockIn, SR860LockIn
from stm_andreev.simulators.emulators.srs import SR830Emulator, SR860Emulator
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter
from tests.simulators.test_srs_parser import ScriptedLab

# Properties that cannot be read from the emulator, and why.
# pymeasure raises NotImplementedError for these on non-SCPI instruments
UNREADABLE = {"complete", "next_error", "options"}
UNREADABLE_SR830 = UNREADABLE
# pymeasure's SR860 has no *STB? property
UNREADABLE_SR860 = UNREADABLE | {"status"}
UNREADABLE_PLAIN_SR860 = UNREADABLE_SR860 | {"id"}  # nor an id (our subclass adds it)

CASES = [
    (SR830, SR830Emulator, UNREADABLE_SR830),
    (SR860, SR860Emulator, UNREADABLE_PLAIN_SR860),
    (SR830LockIn, SR830Emulator, UNREADABLE_SR830),
    # a setting only: the SR860 answers CAPTURERATE? with the rate (capture_rate_Hz), not n
    (SR860LockIn, SR860Emulator, UNREADABLE_SR860 | {"capture_rate_exponent"}),
]


def _connect(cls, emulator_cls):
    lab = ScriptedLab()
    lab.lockin.xy = (1e-3, 2e-3)
    emulator = emulator_cls(lab)
    return cls(EmulatorAdapter(emulator)), emulator, lab


@pytest.mark.parametrize(("cls", "emulator_cls", "unreadable"), CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_every_readable_driver_property_is_served(cls, emulator_cls, unreadable) -> None:
    driver, emulator, _ = _connect(cls, emulator_cls)
    failed = set()
    for name in sorted(dir(cls)):
        if name.startswith("_") or not isinstance(getattr(cls, name, None), property):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pymeasure's deprecated aliases
            try:
                getattr(driver, name)
            except Exception:  # noqa: BLE001 - collect, compare with the documented set
                failed.add(name)
    assert failed == unreadable
    assert not emulator.command_errors


@pytest.mark.parametrize(("cls", "emulator_cls"), [(SR830LockIn, SR830Emulator),
                                                   (SR860LockIn, SR860Emulator)])
def test_interface_settings_round_trip_and_reach_the_lab(cls, emulator_cls) -> None:
    driver, emulator, lab = _connect(cls, emulator_cls)
    assert isinstance(driver, LockIn)  # reads every interface property through the emulator
    settings = {"sensitivity": 20e-3, "time_constant": 0.3, "filter_slope": 24,
                "sine_voltage": 0.5, "frequency": 1234.5}
    for name, value in settings.items():
        setattr(driver, name, value)
        assert getattr(driver, name) == pytest.approx(value)
    assert (lab.lockin.sensitivity_V, lab.lockin.time_constant_s, lab.lockin.filter_slope_db,
            lab.lockin.amplitude_Vrms, lab.lockin.frequency_Hz) == pytest.approx(
        tuple(settings.values()))
    driver.phase = 30.0
    driver.harmonic = 2
    assert (driver.phase, driver.harmonic, lab.lockin.phase_deg) == (30.0, 2, 30.0)
    assert driver.snap_xy() == pytest.approx((1e-3, 2e-3))
    assert (driver.x, driver.y) == pytest.approx((1e-3, 2e-3))
    assert driver.magnitude == pytest.approx(5**0.5 * 1e-3, rel=1e-6)
    assert not driver.overloaded()
    driver.sensitivity = 1e-3
    driver.x  # noqa: B018 - Y = 2 mV exceeds the 1 mV full scale
    assert driver.overloaded()
    assert driver.auto_range() == 5e-3
    assert not emulator.command_errors


def test_pymeasure_sr830_extras_through_the_emulator() -> None:
    driver, emulator, lab = _connect(SR830, SR830Emulator)
    assert driver.id == "Stanford_Research_Systems,SR830,s/n86211,ver1.07"
    driver.aux_out_2 = 1.25  # "AUXV2,1.250000;" with pymeasure's trailing ';'
    assert driver.aux_out_2 == 1.25
    driver.channel1 = "R"
    # DDEF? i answers "j,k" (display, ratio) as on the SR830, so pymeasure's getter, which
    # expects one value, returns the raw list instead of "R": a pymeasure defect.
    assert driver.channel1 == [1.0, 0.0]
    driver.input_config = "A - B"
    driver.reserve = "Low Noise"
    assert (driver.input_config, driver.reserve) == ("A - B", "Low Noise")
    assert driver.snap("X", "Y", "R", "Frequency") == pytest.approx(
        [1e-3, 2e-3, 5**0.5 * 1e-3, 1000.0], rel=1e-6)
    assert driver.xy == pytest.approx([1e-3, 2e-3])
    driver.sensitivity = 0.3  # pymeasure truncates up to 500 mV; our subclass refuses
    assert lab.lockin.sensitivity_V == 0.5
    driver.auto_gain()
    assert lab.lockin.sensitivity_V == 5e-3
    driver.auto_phase()
    assert abs(driver.phase - 63.435) < 1e-3
    assert int(driver.lia_status) == 0 and int(driver.err_status) == 0
    assert not emulator.command_errors


def test_pymeasure_sr860_defects_meet_the_emulator() -> None:
    driver, emulator, _ = _connect(SR860, SR860Emulator)
    assert driver.snap_all() == pytest.approx([1e-3, 2e-3, 5**0.5 * 1e-3, 63.43494882])
    assert driver.snap("X", "Y", "THeta") == pytest.approx([1e-3, 2e-3, 63.43494882])
    driver.filter_slope = 3  # pymeasure's SR860 takes the raw index
    assert driver.filter_slope == 3
    with pytest.raises(TypeError):  # "REFZ&d" % 1 fails in Python before reaching the wire
        driver.reference_externalinput = "1MEG"
    driver.filter_advanced = "Off"  # sends "ADVFIL 0", not a command
    assert "'ADVFIL'" in emulator.command_errors[-1]
    assert driver.filter_advanced == "On"  # so the setting did not change
    ours = SR860LockIn(EmulatorAdapter(emulator))
    ours.filter_advanced = "Off"
    ours.reference_externalinput = "1MEG"
    assert (driver.filter_advanced, driver.reference_externalinput) == ("Off", "1MEG")
