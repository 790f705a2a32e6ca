"""Exact bytes of every LakeShore372 property, plus the convention meta-test.

Each row of CASES is one property on one concrete class: where it lives, what we get or set,
and the exact command/reply pairs on the wire (terminators excluded, as expected_protocol
does). The meta-test fails when a property is added without a row here.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pytest
from pymeasure.test import expected_protocol

from stm_andreev.drivers import lakeshore372 as driver
from stm_andreev.drivers.lakeshore372 import (
    PID,
    AutoRange,
    AuxHeaterOutput,
    ExcitationMode,
    HeaterRange,
    Identity,
    InputChannel,
    InputSetup,
    LakeShore372,
    LakeShoreCommandError,
    LakeShoreReadingError,
    LakeShoreReplyError,
    OutputMode,
    OutputSetup,
    Polarity,
    Ramp,
    ReadingStatus,
    SampleHeaterOutput,
    Scanner,
    SensorSetup,
    SensorUnits,
    StandardEvent,
    TempCoefficient,
)
from stm_andreev.drivers.lakeshore372_adapters import (
    LakeShoreTemperatureControl,
    LakeShoreTransportBridge,
)

ESR_OK = ("*ESR?", "0")

GET = "get"
SET = "set"


class Case(NamedTuple):
    target: str  # attribute path from the instrument ("" = the instrument itself)
    prop: str
    action: str  # GET or SET
    value: Any  # expected value for GET, value to write for SET
    pairs: list[tuple[str | None, str | None]]


CASES: list[Case] = [
    # instrument
    Case("", "identity", GET, Identity("LSCI", "MODEL372", "LSA2ABC", "1.5"),
         [("*IDN?", "LSCI,MODEL372,LSA2ABC,1.5")]),
    Case("", "id", GET, "LSCI,MODEL372,LSA2ABC,1.5", [("*IDN?", "LSCI,MODEL372,LSA2ABC,1.5")]),
    Case("", "standard_event_status", GET,
         StandardEvent.COMMAND_ERROR | StandardEvent.POWER_ON, [("*ESR?", "160")]),
    Case("", "scanner", GET, Scanner(6, False), [("SCAN?", "06,0")]),
    Case("", "scanner", SET, Scanner(9, True), [("SCAN 9,1", None), ESR_OK]),
    Case("", "sample_heater_output", GET, 12.5, [("HTR?", "+1.25000E+01")]),
    # input channels
    Case("ch_6", "kelvin", GET, 0.0123, [("KRDG? 6", "+1.23000E-02")]),
    Case("ch_A", "kelvin", GET, 0.5, [("KRDG? A", "+5.00000E-01")]),
    Case("ch_9", "resistance", GET, 1234.5, [("RDGR? 9", "+1.23450E+03")]),
    Case("ch_6", "excitation_power", GET, 2.5e-15, [("RDGPWR? 6", "+2.50000E-15")]),
    Case("ch_6", "quadrature", GET, -1.5, [("QRDG? 6", "-1.50000E+00")]),
    Case("ch_16", "reading_status", GET, ReadingStatus.T_OVER | ReadingStatus.T_UNDER,
         [("RDGST? 16", "192")]),
    Case("ch_1", "reading_status", GET, ReadingStatus(0), [("RDGST? 1", "000")]),
    Case("ch_3", "setup", GET, InputSetup(True, 10, 3, 3, TempCoefficient.NEGATIVE),
         [("INSET? 3", "1,10,3,3,1")]),
    Case("ch_5", "setup", SET, InputSetup(False, 200, 200, 0, TempCoefficient.POSITIVE),
         [("INSET 5,0,200,200,0,2", None), ESR_OK]),
    Case("ch_A", "sensor_setup", GET,
         SensorSetup(ExcitationMode.CURRENT, 2, AutoRange.OFF, 0, False, SensorUnits.KELVIN),
         [("INTYPE? A", "1,2,0,0,0,1")]),
    Case("ch_6", "sensor_setup", SET,
         SensorSetup(ExcitationMode.VOLTAGE, 3, AutoRange.CURRENT, 22, True, SensorUnits.OHM),
         [("INTYPE 6,0,3,1,22,1,2", None), ESR_OK]),
    # sample heater (output 0)
    Case("sample_heater", "setup", GET,
         OutputSetup(OutputMode.CLOSED_LOOP, "A", False, Polarity.UNIPOLAR, True, 1),
         [("OUTMODE? 0", "5,A,0,0,1,1")]),
    Case("sample_heater", "setup", SET,
         OutputSetup(OutputMode.CLOSED_LOOP, 6, True, Polarity.BIPOLAR, False, 255),
         [("OUTMODE 0,5,6,1,1,0,255", None), ESR_OK]),
    Case("sample_heater", "setpoint", GET, 0.05, [("SETP? 0", "+5.00000E-02")]),
    Case("sample_heater", "setpoint", SET, 0.0125, [("SETP 0,0.0125", None), ESR_OK]),
    Case("sample_heater", "pid", GET, PID(10.0, 20.0, 0.0),
         [("PID? 0", "+10.0000,+20.0000,+0.00000")]),
    Case("sample_heater", "pid", SET, PID(50, 120.5, 2), [("PID 0,50,120.5,2", None), ESR_OK]),
    Case("sample_heater", "ramp", GET, Ramp(True, 0.5), [("RAMP? 0", "1,+5.00000E-01")]),
    Case("sample_heater", "ramp", SET, Ramp(False, 10), [("RAMP 0,0,10", None), ESR_OK]),
    Case("sample_heater", "ramping", GET, True, [("RAMPST? 0", "1")]),
    Case("sample_heater", "manual_output", GET, 42.0, [("MOUT? 0", "+4.20000E+01")]),
    Case("sample_heater", "manual_output", SET, 42.0, [("MOUT 0,42", None), ESR_OK]),
    Case("sample_heater", "heater_range", GET, HeaterRange.I_3_16_mA, [("RANGE? 0", "5")]),
    Case("sample_heater", "heater_range", SET, HeaterRange.I_100_mA,
         [("RANGE 0,8", None), ESR_OK]),
    # warm-up and still heaters (outputs 1, 2)
    Case("warmup_heater", "setup", GET,
         OutputSetup(OutputMode.WARM_UP, 1, True, Polarity.UNIPOLAR, False, 5),
         [("OUTMODE? 1", "6,1,1,0,0,5")]),
    Case("still_heater", "setup", SET,
         OutputSetup(OutputMode.STILL, 0, False, Polarity.UNIPOLAR, False, 1),
         [("OUTMODE 2,4,0,0,0,0,1", None), ESR_OK]),
    Case("warmup_heater", "setpoint", SET, 4.2, [("SETP 1,4.2", None), ESR_OK]),
    Case("still_heater", "setpoint", GET, 0.7, [("SETP? 2", "+7.00000E-01")]),
    Case("warmup_heater", "pid", GET, PID(1.0, 2.0, 3.0), [("PID? 1", "1,2,3")]),
    Case("still_heater", "pid", SET, PID(1, 2, 3), [("PID 2,1,2,3", None), ESR_OK]),
    Case("warmup_heater", "ramp", SET, Ramp(True, 0.001), [("RAMP 1,1,0.001", None), ESR_OK]),
    Case("still_heater", "ramp", GET, Ramp(False, 100.0), [("RAMP? 2", "0,+1.00000E+02")]),
    Case("warmup_heater", "ramping", GET, False, [("RAMPST? 1", "0")]),
    Case("still_heater", "ramping", GET, True, [("RAMPST? 2", "1")]),
    Case("still_heater", "manual_output", SET, 12.5, [("MOUT 2,12.5", None), ESR_OK]),
    Case("warmup_heater", "manual_output", GET, 0.0, [("MOUT? 1", "+0.00000E+00")]),
    Case("warmup_heater", "heater_range", SET, True, [("RANGE 1,1", None), ESR_OK]),
    Case("still_heater", "heater_range", GET, False, [("RANGE? 2", "0")]),
    Case("still_heater", "output", GET, 35.0, [("AOUT? 2", "+3.50000E+01")]),
    Case("warmup_heater", "output", GET, 0.0, [("AOUT? 1", "+0.00000E+00")]),
]


def _resolve(instr: LakeShore372, target: str) -> Any:
    return getattr(instr, target) if target else instr


def _case_id(case: Case) -> str:
    return f"{case.target or 'ls'}.{case.prop}:{case.action}:{case.pairs[0][0]}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_exact_bytes(case: Case) -> None:
    with expected_protocol(LakeShore372, case.pairs) as instr:
        obj = _resolve(instr, case.target)
        if case.action == GET:
            value = getattr(obj, case.prop)
            assert value == case.value
            assert type(value) is type(case.value)
        else:
            setattr(obj, case.prop, case.value)


# ---------------------------------------------------------------------------- meta-test

DRIVER_CLASSES = (LakeShore372, InputChannel, SampleHeaterOutput, AuxHeaterOutput)
VERBS = ("Control ", "Measure ", "Get ", "Set ")
UNIT_OR_RANGE = re.compile(r"\b(K|ohm|Mohm|%|s|K/min|bits?|codes?|bool|fields?)\b|\d+-\d+")
TARGET_CLASS = {
    "": LakeShore372,
    "ch_A": InputChannel,
    **{f"ch_{n}": InputChannel for n in range(1, 17)},
    "sample_heater": SampleHeaterOutput,
    "warmup_heater": AuxHeaterOutput,
    "still_heater": AuxHeaterOutput,
}


def _own_properties(cls: type) -> dict[str, property]:
    """Properties defined in the driver modules (not pymeasure's inherited SCPI ones)."""
    found: dict[str, property] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith(driver.__name__):
            continue
        for name, attr in vars(klass).items():
            if isinstance(attr, property):
                found[name] = attr
    return found


def _covered() -> set[tuple[type, str]]:
    return {(TARGET_CLASS[case.target], case.prop) for case in CASES}


@pytest.mark.parametrize("cls", DRIVER_CLASSES, ids=lambda c: c.__name__)
def test_every_property_documented_and_pinned(cls: type) -> None:
    props = _own_properties(cls)
    assert props, f"{cls.__name__} declares no properties?"
    covered = _covered()
    for name, prop in props.items():
        doc = (prop.__doc__ or "").strip()
        assert doc.startswith(VERBS), f"{cls.__name__}.{name}: docstring must start with a verb"
        assert UNIT_OR_RANGE.search(doc), f"{cls.__name__}.{name}: docstring lacks unit/range"
        assert (cls, name) in covered, f"{cls.__name__}.{name} has no exact-bytes test"


def test_settable_properties_have_a_set_case() -> None:
    setters = {(TARGET_CLASS[c.target], c.prop) for c in CASES if c.action == SET}
    getters = {(TARGET_CLASS[c.target], c.prop) for c in CASES if c.action == GET}
    for cls in DRIVER_CLASSES:
        for name, prop in _own_properties(cls).items():
            if name in {"id"}:
                continue
            # pymeasure keeps the commands as the first default argument of fget/fset
            set_command = prop.fset.__defaults__[0] if prop.fset.__defaults__ else None
            if set_command is not None:
                assert (cls, name) in setters, f"{cls.__name__}.{name}: no SET case"
            get_command = prop.fget.__defaults__[0] if prop.fget.__defaults__ else None
            if get_command is not None:
                assert (cls, name) in getters, f"{cls.__name__}.{name}: no GET case"


# ------------------------------------------------------------------ validation, no bytes

BAD_SETS = [
    ("sample_heater", "heater_range", 9),
    ("sample_heater", "heater_range", -1),
    ("sample_heater", "heater_range", 2.5),
    ("warmup_heater", "heater_range", 2),
    ("sample_heater", "setpoint", -0.001),
    ("sample_heater", "setpoint", 400.1),
    ("sample_heater", "manual_output", 100.5),
    ("sample_heater", "pid", (1001, 0, 0)),
    ("sample_heater", "pid", (1, 2)),
    ("sample_heater", "pid", (1, 10001, 0)),
    ("sample_heater", "ramp", (True, 0.0)),
    ("sample_heater", "ramp", (2, 1.0)),
    ("sample_heater", "setup", (7, "A", False, 0, False, 1)),
    ("sample_heater", "setup", (5, 17, False, 0, False, 1)),
    ("sample_heater", "setup", (5, "B", False, 0, False, 1)),
    ("sample_heater", "setup", (5, "A", False, 0, False, 0)),
    ("ch_1", "setup", (True, 0, 3, 1, 1)),
    ("ch_1", "setup", (True, 10, 2, 1, 1)),
    ("ch_1", "setup", (True, 10, 3, 60, 1)),
    ("ch_1", "setup", (True, 10, 3, 1, 3)),
    ("ch_1", "setup", (True, 10.5, 3, 1, 1)),
    ("ch_6", "sensor_setup", (0, 23, 1, 22, False, 1)),
    ("ch_6", "sensor_setup", (0, 3, 3, 22, False, 1)),
    ("ch_6", "sensor_setup", (0, 3, 1, 22, False, 3)),
    ("sample_heater", "pid", ("10", 0, 0)),
    ("ch_1", "setup", (True, "10", 3, 1, 1)),
    ("", "scanner", (0, False)),
    ("", "scanner", (17, False)),
    ("", "scanner", (True, False)),
]


@pytest.mark.parametrize("target,prop,value", BAD_SETS)
def test_out_of_range_set_raises_before_sending(target: str, prop: str, value: Any) -> None:
    with expected_protocol(LakeShore372, []) as instr:
        with pytest.raises(ValueError):
            setattr(_resolve(instr, target), prop, value)


def test_bad_record_names_the_field() -> None:
    with expected_protocol(LakeShore372, []) as instr:
        with pytest.raises(ValueError, match="pause_s"):
            instr.ch_2.setup = (True, 10, 1, 1, 1)


# ------------------------------------------------------------------ errors on the wire


@pytest.mark.parametrize(
    "esr,words",
    [("4", "query error"), ("16", "execution error"), ("32", "command error"),
     ("52", "query error, execution error, command error")],
)
def test_esr_error_bits_raise_naming_command(esr: str, words: str) -> None:
    with expected_protocol(LakeShore372, [("RANGE 0,3", None), ("*ESR?", esr)]) as instr:
        with pytest.raises(LakeShoreCommandError) as info:
            instr.sample_heater.heater_range = 3
    assert "RANGE 0,3" in str(info.value)
    assert words in str(info.value)
    assert info.value.command == "RANGE 0,3"


def test_power_on_bit_alone_is_not_an_error() -> None:
    with expected_protocol(LakeShore372, [("SETP 0,1", None), ("*ESR?", "128")]) as instr:
        instr.sample_heater.setpoint = 1.0


def test_clear_reset_and_write_checked() -> None:
    pairs = [("*CLS", None), ESR_OK, ("*RST", None), ("*ESR?", "128"),
             ("INTYPE 1,0,5,0,10,1", None), ("*ESR?", "16")]
    with expected_protocol(LakeShore372, pairs) as instr:
        instr.clear()
        instr.reset()
        with pytest.raises(LakeShoreCommandError, match="INTYPE 1,0,5,0,10,1"):
            instr.write_checked("INTYPE 1,0,5,0,10,1")


def test_heaters_off_switches_all_three_outputs() -> None:
    pairs = [("RANGE 0,0", None), ESR_OK, ("RANGE 1,0", None), ESR_OK,
             ("RANGE 2,0", None), ESR_OK]
    with expected_protocol(LakeShore372, pairs) as instr:
        instr.heaters_off()


@pytest.mark.parametrize(
    "target,prop,command,reply",
    [
        ("ch_6", "kelvin", "KRDG? 6", "garbage"),
        ("ch_6", "kelvin", "KRDG? 6", "nan"),
        ("ch_6", "kelvin", "KRDG? 6", "1E999"),
        ("ch_6", "kelvin", "KRDG? 6", "+1.0E-01;0"),
        ("ch_6", "resistance", "RDGR? 6", "1_000"),
        ("ch_6", "reading_status", "RDGST? 6", "256"),
        ("sample_heater", "heater_range", "RANGE? 0", "9"),
        ("warmup_heater", "heater_range", "RANGE? 1", "2"),
        ("sample_heater", "pid", "PID? 0", "1,2"),
        ("sample_heater", "setup", "OUTMODE? 0", "5,B,0,0,1,1"),
        ("", "scanner", "SCAN?", "17,0"),
        ("", "identity", "*IDN?", "LSCI,MODEL372"),
        ("ch_3", "setup", "INSET? 3", "1,10,3,3,0"),
        ("ch_3", "sensor_setup", "INTYPE? 3", "0,3,1,22,0,3"),
    ],
)
def test_garbled_reply_raises_reply_error(target: str, prop: str, command: str,
                                          reply: str) -> None:
    with expected_protocol(LakeShore372, [(command, reply)]) as instr:
        with pytest.raises(LakeShoreReplyError, match=re.escape(repr(reply))):
            getattr(_resolve(instr, target), prop)


def test_tcp_resource_name() -> None:
    assert LakeShore372.tcp_resource("10.0.0.5") == "TCPIP::10.0.0.5::7777::SOCKET"
    assert LakeShore372.tcp_resource("127.0.0.1", 50123) == "TCPIP::127.0.0.1::50123::SOCKET"


def test_channels_and_outputs_collections() -> None:
    with expected_protocol(LakeShore372, []) as instr:
        assert list(instr.channels) == ["A", *range(1, 17)]
        assert instr.channels["A"] is instr.ch_A
        assert instr.outputs[0] is instr.sample_heater
        assert instr.outputs[1] is instr.warmup_heater
        assert instr.outputs[2] is instr.still_heater


# ------------------------------------------------------------------ adapters on the wire


def test_set_control_sequence() -> None:
    pairs = [
        ("OUTMODE? 0", "0,6,0,0,0,1"),
        ("OUTMODE 0,5,6,0,0,0,1", None), ESR_OK,
        ("PID 0,150,40,0", None), ESR_OK,
        ("SETP 0,0.3", None), ESR_OK,
        ("RANGE 0,5", None), ESR_OK,  # the heater range goes last
    ]
    with expected_protocol(LakeShore372, pairs) as instr:
        LakeShoreTemperatureControl(instr).set_control(0.3, 5, (150.0, 40.0, 0.0))


def test_set_control_keeps_closed_loop_mode() -> None:
    pairs = [("OUTMODE? 0", "5,A,0,0,0,1"), ("PID 0,1,2,3", None), ESR_OK,
             ("SETP 0,1.5", None), ESR_OK, ("RANGE 0,7", None), ESR_OK]
    with expected_protocol(LakeShore372, pairs) as instr:
        LakeShoreTemperatureControl(instr).set_control(1.5, 7, (1, 2, 3))


def test_scan_returns_the_settling_wait() -> None:
    pairs = [("SCAN 6,0", None), ESR_OK, ("INSET? 6", "1,10,3,6,1")]
    with expected_protocol(LakeShore372, pairs) as instr:
        control = LakeShoreTemperatureControl(instr, channels={"mixing chamber": 6})
        assert control.scan("mixing chamber") == 13.0
    with expected_protocol(LakeShore372, []) as instr:
        assert LakeShoreTemperatureControl(instr).scan("A") == 0.0


def test_temperature_reads_kelvin_then_status() -> None:
    pairs = [("KRDG? 6", "+5.00000E-02"), ("RDGST? 6", "000"),
             ("KRDG? 6", "+0.00000E+00"), ("RDGST? 6", "160")]
    with expected_protocol(LakeShore372, pairs) as instr:
        control = LakeShoreTemperatureControl(instr, channels={"mixing chamber": 6})
        assert control.temperature("mixing chamber") == 0.05
        with pytest.raises(LakeShoreReadingError, match="R_UNDER, T_UNDER"):
            control.temperature(6)


def test_heater_output_and_off() -> None:
    pairs = [("HTR?", "+4.20000E+01"), ("RANGE 0,0", None), ESR_OK]
    with expected_protocol(LakeShore372, pairs) as instr:
        control = LakeShoreTemperatureControl(instr)
        assert control.heater_output() == 42.0
        control.heater_off()


def test_transport_bridge_bytes() -> None:
    pairs = [("RDGR? 9", "+1.23400E+04"), ("RDGST? 9", "192"),
             ("RDGR? 9", "+6.32000E+07"), ("RDGST? 9", "016")]
    with expected_protocol(LakeShore372, pairs) as instr:
        bridge = LakeShoreTransportBridge(instr, 9)
        assert bridge.resistance() == 12340.0  # T bits ignored: the film has no curve
        with pytest.raises(LakeShoreReadingError, match="R_OVER"):
            bridge.resistance()


# ------------------------------------------------------------------ connection settings


class _FakeResourceManager:
    """Records what pymeasure's VISAAdapter asks pyvisa to open."""

    opened: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, visa_library: str = "") -> None:
        self.visa_library = visa_library

    def resource_info(self, name: str) -> Any:
        from pyvisa import rname

        interface = rname.parse_resource_name(name).interface_type_const
        return NamedTuple("Info", [("interface_type", Any)])(interface)

    def open_resource(self, name: str, **kwargs: Any) -> Any:
        from unittest.mock import MagicMock

        self.opened.append((name, kwargs))
        return MagicMock()


@pytest.mark.parametrize(
    "resource,expected",
    [
        ("ASRL/dev/ttyUSB0::INSTR", {"baud_rate": 57600, "data_bits": 7}),
        ("TCPIP::10.0.0.5::7777::SOCKET", {}),
    ],
)
def test_visa_connection_settings(monkeypatch: pytest.MonkeyPatch, resource: str,
                                  expected: dict[str, Any]) -> None:
    from pymeasure.adapters import visa
    from pyvisa.constants import Parity, StopBits

    _FakeResourceManager.opened = []
    monkeypatch.setattr(visa.pyvisa, "ResourceManager", _FakeResourceManager)
    LakeShore372(resource, visa_library="@py")
    (name, kwargs), = _FakeResourceManager.opened
    assert name == resource
    assert kwargs["read_termination"] == "\r\n"
    assert kwargs["write_termination"] == "\r\n"
    assert kwargs["timeout"] == 2000
    for key, value in expected.items():
        assert kwargs[key] == value
    if resource.startswith("ASRL"):
        assert kwargs["parity"] is Parity.odd
        assert kwargs["stop_bits"] is StopBits.one
    else:
        assert "baud_rate" not in kwargs


def test_numpy_integers_are_integers() -> None:
    import numpy as np

    with expected_protocol(LakeShore372, [("INSET 2,1,10,3,2,1", None), ESR_OK]) as instr:
        instr.ch_2.setup = (True, np.int64(10), np.int32(3), np.int64(2), 1)
