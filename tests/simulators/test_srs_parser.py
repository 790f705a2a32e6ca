"""SR830 / SR860 emulators on exact lines, over a scripted stand-in for ``lab.lockin``.

The stand-in returns the X, Y and overload bits a test sets, so these tests pin the wire layer
(grammar, replies, status latching, write-through of settings) independently of the physics.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stm_andreev.simulators.emulator import LineEmulator
from stm_andreev.simulators.emulators.srs import (
    ESR_COMMAND_ERROR,
    ESR_EXECUTION_ERROR,
    ESR_POWER_ON,
    SR830Emulator,
    SR860Emulator,
)


class ScriptedLockIn:
    """The attributes and methods of ``lab.lockin`` the emulators use."""

    def __init__(self) -> None:
        self.reset_settings()
        self.xy = (0.0, 0.0)
        self.bits = 0
        self.resets = 0

    def reset_settings(self) -> None:
        # the VirtualLab's power-on state (an SR830's)
        self.sensitivity_V = 1.0
        self.time_constant_s = 0.1
        self.filter_slope_db = 12
        self.amplitude_Vrms = 1.0
        self.frequency_Hz = 1000.0
        self.phase_deg = 0.0
        self.harmonic = 1
        self.divider = 1e-3
        self.resets = getattr(self, "resets", 0) + 1

    def read_xy_V(self) -> tuple[float, float]:
        return self.xy

    def overload_bits(self) -> int:
        return self.bits


class ScriptedLab:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.lockin = ScriptedLockIn()


@pytest.fixture
def lab() -> ScriptedLab:
    return ScriptedLab()


@pytest.fixture
def sr830(lab: ScriptedLab) -> SR830Emulator:
    return SR830Emulator(lab)


@pytest.fixture
def sr860(lab: ScriptedLab) -> SR860Emulator:
    return SR860Emulator(lab)


def test_emulators_are_line_emulators(sr830, sr860) -> None:
    assert isinstance(sr830, LineEmulator) and isinstance(sr860, LineEmulator)
    assert (sr830.name, sr860.name) == ("SR830", "SR860")


def test_idn(sr830, sr860) -> None:
    assert sr830.handle_line("*IDN?") == "Stanford_Research_Systems,SR830,s/n86211,ver1.07\n"
    assert sr860.handle_line("*idn?") == "Stanford_Research_Systems,SR860,004567,v1.51\n"
    assert SR830Emulator(ScriptedLab(), serial="s/n12345").handle_line("*IDN?") == (
        "Stanford_Research_Systems,SR830,s/n12345,ver1.07\n")


def test_construction_reads_the_lab_and_rst_writes_the_defaults(lab) -> None:
    changed = dict(sensitivity_V=0.5, time_constant_s=3.0, filter_slope_db=6,
                   amplitude_Vrms=0.2, frequency_Hz=77.0, phase_deg=10.0, harmonic=2)
    for attribute, value in changed.items():  # e.g. the Nanonis set the modulation first
        setattr(lab.lockin, attribute, value)
    sr830 = SR830Emulator(lab)
    # building the emulator leaves the lab's lock-in as it is
    assert sr830.handle_line("SENS?;OFLT?;OFSL?;SLVL?;FREQ?;PHAS?;HARM?") == (
        "25\n11\n0\n0.200\n77\n10.000\n2\n")
    sr830.handle_line("*RST")
    assert (lab.lockin.sensitivity_V, lab.lockin.time_constant_s, lab.lockin.filter_slope_db) == (
        1.0, 0.1, 12)
    assert sr830.handle_line("SENS?;OFLT?;OFSL?;SLVL?;FREQ?;PHAS?;HARM?") == (
        "26\n8\n1\n1.000\n1000\n0.000\n1\n")


@pytest.mark.parametrize(
    ("line", "attribute", "value"),
    [
        ("SENS 22", "sensitivity_V", 50e-3),
        ("sens22", "sensitivity_V", 50e-3),
        ("  SeNs  0 ", "sensitivity_V", 2e-9),
        ("OFLT 9", "time_constant_s", 0.3),
        ("OFLT19", "time_constant_s", 3e4),
        ("OFSL 3", "filter_slope_db", 24),
        ("SLVL 0.250", "amplitude_Vrms", 0.25),
        ("FREQ 1.23450e+03", "frequency_Hz", 1234.5),
        ("PHAS 370", "phase_deg", 10.0),
        ("PHAS -12.5", "phase_deg", -12.5),
        ("HARM 3", "harmonic", 3),
    ],
)
def test_sr830_settings_write_through(lab, sr830, line: str, attribute: str, value) -> None:
    assert sr830.handle_line(line) == ""
    assert getattr(lab.lockin, attribute) == pytest.approx(value)
    assert sr830.command_errors == type(sr830.command_errors)()


@pytest.mark.parametrize(
    ("line", "attribute", "value"),
    [
        ("SCAL 0", "sensitivity_V", 1.0),
        ("SCAL 27", "sensitivity_V", 1e-9),
        ("OFLT 0", "time_constant_s", 1e-6),
        ("OFLT 21", "time_constant_s", 3e4),
        ("SLVL 1.000000000e-02", "amplitude_Vrms", 0.01),
        ("FREQINT 2.5e3", "frequency_Hz", 2500.0),
        ("Harm 5", "harmonic", 5),
    ],
)
def test_sr860_settings_write_through(lab, sr860, line: str, attribute: str, value) -> None:
    assert sr860.handle_line(line) == ""
    assert getattr(lab.lockin, attribute) == pytest.approx(value)


def test_queries_read_the_lab_so_changes_elsewhere_show(lab, sr830, sr860) -> None:
    lab.lockin.amplitude_Vrms = 0.05  # e.g. set through the Nanonis LockIn.ModAmpSet
    lab.lockin.sensitivity_V = 2e-3
    assert sr830.handle_line("SLVL?") == "0.050\n"
    assert sr830.handle_line("SENS?") == "18\n"
    assert sr860.handle_line("SCAL?") == "8\n"
    assert sr860.handle_line("SLVL?") == "5.000000000e-02\n"


def test_several_commands_per_line_and_empty_segments(lab, sr830) -> None:
    assert sr830.handle_line("SENS 20;;OFLT 7; SENS?;OFLT?;") == "20\n7\n"
    # pymeasure's aux-output setter and getter carry a trailing ';'
    assert sr830.handle_line("AUXV1,1.250000;") == ""
    assert sr830.handle_line("AUXV?1;") == "1.25\n"


def test_outputs_and_snap(lab, sr830, sr860) -> None:
    lab.lockin.sensitivity_V = 1.0
    sr830.handle_line("SENS 26")
    lab.lockin.xy = (3e-3, -4e-3)
    assert sr830.handle_line("OUTP?1") == "3.000000e-03\n"
    assert sr830.handle_line("OUTP? 2") == "-4.000000e-03\n"
    assert sr830.handle_line("OUTP?3") == "5.000000e-03\n"
    assert sr830.handle_line("OUTP?4") == "-5.313010e+01\n"
    assert sr830.handle_line("SNAP?1,2") == "3.000000e-03,-4.000000e-03\n"
    assert sr830.handle_line("SNAP? 3,9,5,1,2,4") == (
        "5.000000e-03,1.000000e+03,0.000000e+00,3.000000e-03,-4.000000e-03,-5.313010e+01\n")
    assert sr860.handle_line("OUTP? 0;OUTP? y;OUTP? THeta") == (
        "3.000000e-03\n-4.000000e-03\n-5.313010e+01\n")
    assert sr860.handle_line("SNAP? 0,1") == "3.000000e-03,-4.000000e-03\n"
    assert sr860.handle_line("SNAP? X, Y, R") == "3.000000e-03,-4.000000e-03,5.000000e-03\n"
    assert sr860.handle_line("SNAPD?") == (
        "3.000000e-03,-4.000000e-03,5.000000e-03,-5.313010e+01\n")
    sr860.handle_line("CDSP 3, 15")
    assert sr860.handle_line("SNAPD?").endswith(",1.000000e+03\n")


def test_sr830_display_channels_follow_ddef(lab, sr830) -> None:
    lab.lockin.xy = (3e-3, 4e-3)
    assert sr830.handle_line("SNAP?10,11") == "3.000000e-03,4.000000e-03\n"
    sr830.handle_line("DDEF1,1,0;DDEF 2,1,0")
    assert sr830.handle_line("DDEF?1;") == "1,0\n"
    assert sr830.handle_line("SNAP?10,11") == "5.000000e-03,5.313010e+01\n"


def test_outputs_saturate_and_latch_output_overload(lab, sr830) -> None:
    sr830.handle_line("SENS 17")  # 1 mV
    lab.lockin.xy = (5e-3, 0.0)
    assert sr830.handle_line("OUTP?1") == "1.090000e-03\n"
    assert sr830.handle_line("LIAS?") == "4\n"
    assert sr830.handle_line("LIAS?") == "0\n"  # read-and-clear


def test_lab_overloads_latch_until_read(lab, sr830, sr860) -> None:
    lab.lockin.bits = 0b011  # input and filter overload, for a moment
    sr830.handle_line("SENS?")
    sr860.handle_line("SCAL?")
    lab.lockin.bits = 0
    assert sr830.handle_line("LIAS? 1") == "1\n"  # bit query clears that bit only
    assert sr830.handle_line("LIAS? 1") == "0\n"
    assert sr830.handle_line("LIAS?") == "1\n"
    assert sr830.handle_line("LIAS?") == "0\n"
    # the SR860 reports input range overload in bit 4, the filter in bit 6
    assert sr860.handle_line("LIAS?") == str((1 << 4) | (1 << 6)) + "\n"
    lab.lockin.bits = 0b100
    assert sr860.handle_line("LIAS?") == "1\n"


def test_sr860_current_overload_status_is_not_latched(lab, sr860) -> None:
    sr860.handle_line("SCAL 9")  # 1 mV
    lab.lockin.xy = (2e-3, 0.0)
    lab.lockin.bits = 0b001
    assert sr860.handle_line("CUROVLDSTAT?") == str(1 | 16) + "\n"
    lab.lockin.xy, lab.lockin.bits = (0.0, 0.0), 0
    assert sr860.handle_line("CUROVLDSTAT?") == "0\n"


@pytest.mark.parametrize(
    ("line", "bit"),
    [
        ("FOO 1", ESR_COMMAND_ERROR),
        ("SENSX?", ESR_COMMAND_ERROR),
        ("*IDN", ESR_COMMAND_ERROR),  # set form of a query-only command
        ("OUTP 1", ESR_COMMAND_ERROR),
        ("SENS 27", ESR_EXECUTION_ERROR),
        ("SENS -1", ESR_EXECUTION_ERROR),
        ("SENS 2.5", ESR_EXECUTION_ERROR),
        ("SENS", ESR_EXECUTION_ERROR),
        ("SENS 1,2", ESR_EXECUTION_ERROR),
        ("OFLT 20", ESR_EXECUTION_ERROR),
        ("OFSL 4", ESR_EXECUTION_ERROR),
        ("SLVL 5.1", ESR_EXECUTION_ERROR),
        ("SLVL 0.001", ESR_EXECUTION_ERROR),
        ("FREQ 2e5", ESR_EXECUTION_ERROR),
        ("FREQ nan", ESR_EXECUTION_ERROR),
        ("HARM 0", ESR_EXECUTION_ERROR),
        ("HARM 200", ESR_EXECUTION_ERROR),  # 200 x 1 kHz > 102 kHz
        ("OUTP? 5", ESR_EXECUTION_ERROR),
        ("OUTP? 0", ESR_EXECUTION_ERROR),  # 1-based on the SR830
        ("SNAP? 1", ESR_EXECUTION_ERROR),
        ("SNAP? 1,2,3,4,5,6,7", ESR_EXECUTION_ERROR),
        ("SNAP? 1,,2", ESR_EXECUTION_ERROR),
        ("AUXV 5,1.0", ESR_EXECUTION_ERROR),
        ("AUXV 1,11", ESR_EXECUTION_ERROR),
        ("DDEF1,2,0;SNAP?10,11", ESR_EXECUTION_ERROR),  # X noise is not emulated
    ],
)
def test_sr830_bad_commands_answer_nothing_and_set_esr(sr830, line: str, bit: int) -> None:
    assert sr830.handle_line(line) == ""
    assert sr830.handle_line("*ESR?") == f"{bit}\n"
    assert sr830.handle_line("*ESR?") == "0\n"
    assert sr830.command_errors


def test_sr860_rejects_pymeasures_malformed_refz(sr860) -> None:
    assert sr860.handle_line("REFZ&d") == ""
    assert sr860.handle_line("*ESR?") == f"{ESR_EXECUTION_ERROR}\n"
    assert sr860.handle_line("ADVFIL 1") == ""  # pymeasure's setter mnemonic does not exist
    assert sr860.handle_line("*ESR?") == f"{ESR_COMMAND_ERROR}\n"
    assert sr860.handle_line("ADVFILT 0;ADVFILT?;REFZ 1;REFZ?") == "0\n1\n"


def test_errors_do_not_stop_the_rest_of_the_line(sr830) -> None:
    assert sr830.handle_line("FOO;SENS 3;SENS?;OFLT 99;OFLT?") == "3\n8\n"
    assert sr830.handle_line("*ESR?") == f"{ESR_COMMAND_ERROR | ESR_EXECUTION_ERROR}\n"


def test_enable_registers_whole_and_per_bit(sr830, sr860) -> None:
    assert sr830.handle_line("LIAE 2,1;LIAE?;LIAE? 2;LIAE 2,0;LIAE?") == "4\n1\n0\n"
    assert sr830.handle_line("*ESE 48;*ESE?;ERRE 255;ERRE?") == "48\n255\n"
    assert sr830.handle_line("LIAE 256;LIAE 8,1;*ESR?") == f"{ESR_EXECUTION_ERROR}\n"
    assert sr860.handle_line("LIAE 14,1;LIAE?") == f"{1 << 14}\n"
    sr830.reset()
    assert sr830.handle_line("*ESE?") == "0\n"


def test_status_byte_and_clear(sr830, lab) -> None:
    sr830.handle_line("LIAE 4;*ESE 48")
    lab.lockin.bits = 0b100
    sr830.handle_line("FOO")
    assert sr830.handle_line("*STB?") == str((1 << 3) | (1 << 5)) + "\n"
    lab.lockin.bits = 0
    sr830.handle_line("*CLS")
    assert sr830.handle_line("*STB?;LIAS?;*ESR?;ERRS?") == "0\n0\n0\n0\n"


def test_rst_restores_defaults_but_reset_is_a_power_cycle(lab, sr830) -> None:
    sr830.handle_line("SENS 3;AUXV 2,1.5;ISRC 1;FOO")
    sr830.handle_line("*RST")
    assert sr830.handle_line("SENS?;AUXV?2;ISRC?") == "26\n0\n0\n"
    assert sr830.handle_line("*ESR?") == f"{ESR_COMMAND_ERROR}\n"  # *RST keeps status
    resets = lab.lockin.resets
    sr830.handle_line("SENS 3")
    sr830.reset()
    assert lab.lockin.resets == resets + 1
    assert sr830.handle_line("SENS?") == "26\n"
    assert sr830.handle_line("*ESR?") == f"{ESR_POWER_ON}\n"


def test_auto_gain_and_auto_phase(lab, sr830, sr860) -> None:
    lab.lockin.xy = (3e-3, 3e-3)
    sr830.handle_line("AGAN")
    assert lab.lockin.sensitivity_V == 10e-3  # R = 4.24 mV -> 5.3 mV needed
    sr830.handle_line("PHAS 10;APHS")
    assert lab.lockin.phase_deg == pytest.approx(55.0)
    sr860.handle_line("ASCL")
    assert sr860.handle_line("SCAL?") == "6\n"


def test_sr860_stored_and_derived_queries(sr860, lab) -> None:
    sr860.handle_line("OFLT 10;OFSL 3")
    assert float(sr860.handle_line("ENBW?")) == pytest.approx(5 / 64 / 0.1, rel=1e-6)
    assert sr860.handle_line("PSTF 2, 1.5e3;PSTF? 2;CDSP? 1;GSPD 4;GSPD?") == "1500\n1\n4\n"
    assert sr860.handle_line("FREQDET?;TBSTAT?") == "1000\n1\n"


_MNEMONICS = ["SENS", "SCAL", "OFLT", "OFSL", "SLVL", "FREQ", "PHAS", "HARM", "OUTP", "SNAP",
              "SNAPD", "LIAS", "*ESR", "*IDN", "AUXV", "DDEF", "CDSP", "FOO", "*RST", "APHS"]
_lines = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.tuples(st.sampled_from(_MNEMONICS), st.sampled_from(["", "?", " ", "? "]),
                  st.lists(st.one_of(st.integers(-3, 30).map(str), st.floats().map(repr),
                                     st.text(max_size=4)), max_size=7).map(",".join)),
        min_size=1, max_size=4,
    ).map(lambda cmds: ";".join(m + q + a for m, q, a in cmds)),
)


@pytest.mark.parametrize("emulator_cls", [SR830Emulator, SR860Emulator])
@settings(max_examples=150, deadline=None)
@given(line=_lines)
def test_any_line_gets_lf_terminated_replies_or_silence(emulator_cls, line: str) -> None:
    lab = ScriptedLab()
    lab.lockin.xy = (1e-3, -2e-3)
    emulator = emulator_cls(lab)
    reply = emulator.handle_line(line)
    assert reply == "" or reply.endswith("\n")
    queries = sum(1 for seg in line.split(";") if "?" in seg)
    assert reply.count("\n") <= queries
    # the instrument still works afterwards
    assert emulator.handle_line("*IDN?").startswith("Stanford_Research_Systems,")
