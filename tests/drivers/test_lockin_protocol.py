"""Exact bytes of the SR830LockIn / SR860LockIn properties and methods (pymeasure protocol)."""

from __future__ import annotations

import pytest
from pymeasure.instruments.srs import SR830, SR860
from pymeasure.test import expected_protocol

from stm_andreev.drivers.interfaces import LockIn
from stm_andreev.drivers.lockin import (
    AutoRangeError,
    LockInReplyError,
    SensitivityRangeError,
    SR830LockIn,
    SR860LockIn,
)
from stm_andreev.drivers.lockin_filter import settle_time_s
from stm_andreev.drivers.srs_tables import (
    SR830_MODEL,
    SR860_MODEL,
    TableValueError,
    table_index,
)


def test_tables_match_pymeasure_and_manual_sizes() -> None:
    assert list(SR830_MODEL.sensitivities_V) == SR830.SENSITIVITIES
    assert list(SR830_MODEL.time_constants_s) == SR830.TIME_CONSTANTS
    assert list(SR860_MODEL.sensitivities_V) == SR860.SENSITIVITIES
    assert list(SR860_MODEL.time_constants_s) == SR860.TIME_CONSTANTS
    assert (len(SR830_MODEL.sensitivities_V), len(SR830_MODEL.time_constants_s)) == (27, 20)
    assert (len(SR860_MODEL.sensitivities_V), len(SR860_MODEL.time_constants_s)) == (28, 22)


def test_table_index_is_strict() -> None:
    assert table_index(50e-3, SR830_MODEL.sensitivities_V) == 22
    assert table_index(5.0000001e-2, SR830_MODEL.sensitivities_V) == 22
    with pytest.raises(TableValueError, match="not an allowed setting"):
        table_index(0.03, SR830_MODEL.sensitivities_V)


@pytest.mark.parametrize("cls", [SR830LockIn, SR860LockIn])
def test_both_models_satisfy_the_lockin_interface(cls: type) -> None:
    # isinstance() on a runtime Protocol reads every property (I/O), so check the class.
    members = set(LockIn.__annotations__) | {"snap_xy", "overloaded", "settle_time",
                                             "route_xy_outputs", "xy_outputs_routed"}
    assert all(hasattr(cls, name) for name in members)


# (class, action, exact exchanges, expected value or None)
PROPERTY_CASES = [
    (SR830LockIn, "get sensitivity", [("SENS?", "22")], 50e-3),
    (SR830LockIn, "set sensitivity 0.05", [("SENS22", None)], None),
    (SR830LockIn, "get time_constant", [("OFLT?", "8")], 0.1),
    (SR830LockIn, "set time_constant 0.3", [("OFLT9", None)], None),
    (SR830LockIn, "get filter_slope", [("OFSL?", "3")], 24),
    (SR830LockIn, "set filter_slope 12", [("OFSL1", None)], None),
    (SR830LockIn, "get sine_voltage", [("SLVL?", "0.100")], 0.1),
    (SR830LockIn, "set sine_voltage 0.25", [("SLVL0.250", None)], None),
    (SR830LockIn, "get frequency", [("FREQ?", "1000.0")], 1000.0),
    (SR830LockIn, "set frequency 1234.5", [("FREQ1.23450e+03", None)], None),
    (SR830LockIn, "get x", [("OUTP?1", "1.5e-3")], 1.5e-3),
    (SR830LockIn, "get y", [("OUTP?2", "-2e-6")], -2e-6),
    (SR830LockIn, "get magnitude", [("OUTP?3", "0.001")], 1e-3),
    (SR830LockIn, "get theta", [("OUTP?4", "-12.5")], -12.5),
    (SR860LockIn, "get sensitivity", [("SCAL?", "5")], 20e-3),
    (SR860LockIn, "set sensitivity 1e-9", [("SCAL 27", None)], None),
    (SR860LockIn, "get time_constant", [("OFLT?", "0")], 1e-6),
    (SR860LockIn, "set time_constant 30000", [("OFLT 21", None)], None),
    (SR860LockIn, "get filter_slope", [("OFSL?", "0")], 6),
    (SR860LockIn, "set filter_slope 24", [("OFSL 3", None)], None),
    (SR860LockIn, "get sine_voltage", [("SLVL?", "1.000000000e-02")], 0.01),
    (SR860LockIn, "set sine_voltage 0.01", [("SLVL 1.000000000e-02", None)], None),
    (SR860LockIn, "set frequency 1000", [("FREQ 1.000000e+03", None)], None),
    (SR860LockIn, "get x", [("OUTP? 0", "1e-3")], 1e-3),
    (SR860LockIn, "get y", [("OUTP? 1", "2e-3")], 2e-3),
    (SR860LockIn, "get magnitude", [("OUTP? 2", "3e-3")], 3e-3),
    (SR860LockIn, "get theta", [("OUTP? 3", "45")], 45.0),
    (SR860LockIn, "set filter_advanced On", [("ADVFILT 1", None)], None),
    (SR860LockIn, "get filter_advanced", [("ADVFILT?", "0")], "Off"),
    (SR860LockIn, "set reference_externalinput 1MEG", [("REFZ 1", None)], None),
    (SR860LockIn, "set horizontal_time_div 3", [("GSPD 3", None)], None),
    (SR860LockIn, "get id", [("*IDN?", "Stanford_Research_Systems,SR860,004567,v1.51")],
     "Stanford_Research_Systems,SR860,004567,v1.51"),
]


@pytest.mark.parametrize(("cls", "action", "pairs", "expected"), PROPERTY_CASES,
                         ids=[f"{c.__name__}-{a}" for c, a, _, _ in PROPERTY_CASES])
def test_property_bytes(cls: type, action: str, pairs: list, expected: object) -> None:
    verb, name, *arg = action.split()
    with expected_protocol(cls, pairs) as lockin:
        if verb == "get":
            value = getattr(lockin, name)
            assert value == pytest.approx(expected) if isinstance(expected, float) else expected
        else:
            raw = arg[0]
            setattr(lockin, name, raw if raw.isalpha() or "MEG" in raw else float(raw))


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (SR830LockIn, "sensitivity", 0.03),  # between table entries: pymeasure would round up
        (SR830LockIn, "sensitivity", 2.0),
        (SR830LockIn, "time_constant", 0.2),
        (SR830LockIn, "filter_slope", 10),
        (SR830LockIn, "sine_voltage", 6.0),  # pymeasure would clip to 5 V
        (SR830LockIn, "sine_voltage", 0.001),
        (SR830LockIn, "frequency", 2e5),
        (SR860LockIn, "sensitivity", 3e-3),
        (SR860LockIn, "time_constant", 2e-6),
        (SR860LockIn, "filter_slope", 3),  # an index is not a slope
        (SR860LockIn, "sine_voltage", 2.5),
    ],
)
def test_out_of_table_settings_raise_and_send_nothing(cls: type, name: str, value: float) -> None:
    with expected_protocol(cls, []) as lockin, pytest.raises(ValueError):
        setattr(lockin, name, value)


@pytest.mark.parametrize(
    ("cls", "name", "pairs"),
    [
        (SR830LockIn, "sensitivity", [("SENS?", "-1")]),  # pymeasure would read 1 V
        (SR830LockIn, "sensitivity", [("SENS?", "27")]),
        (SR830LockIn, "sensitivity", [("SENS?", "2.5")]),
        (SR830LockIn, "time_constant", [("OFLT?", "abc")]),
        (SR830LockIn, "filter_slope", [("OFSL?", "4")]),
        (SR830LockIn, "x", [("OUTP?1", "1.0e-3,2")]),
        (SR830LockIn, "x", [("OUTP?1", "nan")]),
        (SR830LockIn, "frequency", [("FREQ?", "")]),
        (SR860LockIn, "sensitivity", [("SCAL?", "28")]),
        (SR860LockIn, "y", [("OUTP? 1", "garbage")]),
    ],
)
def test_garbled_replies_raise_reply_error(cls: type, name: str, pairs: list) -> None:
    with expected_protocol(cls, pairs) as lockin, pytest.raises(LockInReplyError):
        getattr(lockin, name)


@pytest.mark.parametrize(
    ("cls", "command"), [(SR830LockIn, "SNAP?1,2"), (SR860LockIn, "SNAP? 0,1")]
)
def test_snap_xy_bytes(cls: type, command: str) -> None:
    with expected_protocol(cls, [(command, "1.25e-3,-4.0e-6")]) as lockin:
        assert lockin.snap_xy() == (1.25e-3, -4.0e-6)


# What a controller recording the analog outputs needs: X on CH1, Y on CH2 (SR830 FPOP i,1 =
# X / Y whatever the display shows; SR860 COUT 0|1 (OCH1|OCH2), 0 (XY)).
XY_OUTPUT_BYTES = {
    SR830LockIn: (("FPOP 1,1", "FPOP 2,1"), ("FPOP? 1", "FPOP? 2"), "1", "0"),
    SR860LockIn: (("COUT 0,0", "COUT 1,0"), ("COUT? 0", "COUT? 1"), "0", "1"),
}


@pytest.mark.parametrize("cls", [SR830LockIn, SR860LockIn])
def test_route_xy_outputs_bytes(cls: type) -> None:
    commands, queries, routed, other = XY_OUTPUT_BYTES[cls]
    with expected_protocol(cls, [(c, None) for c in commands]) as lockin:
        lockin.route_xy_outputs()
    with expected_protocol(cls, [(q, routed) for q in queries]) as lockin:
        assert lockin.xy_outputs_routed() is True
    # Either output elsewhere (SR830: the display; SR860: R / theta) is not routed.
    with expected_protocol(cls, [(queries[0], routed), (queries[1], other)]) as lockin:
        assert lockin.xy_outputs_routed() is False
    with expected_protocol(cls, [(queries[0], "2")]) as lockin:
        with pytest.raises(LockInReplyError):
            lockin.xy_outputs_routed()


@pytest.mark.parametrize("reply", ["1.0", "1,2,3", "a,b", "1e-3,inf", ""])
def test_snap_xy_rejects_garbled(reply: str) -> None:
    with expected_protocol(SR830LockIn, [("SNAP?1,2", reply)]) as lockin:
        with pytest.raises(LockInReplyError):
            lockin.snap_xy()


@pytest.mark.parametrize(
    ("cls", "reply", "expected"),
    [
        (SR830LockIn, "0", False),
        (SR830LockIn, "1", True),  # input overload
        (SR830LockIn, "2", True),  # filter overload
        (SR830LockIn, "4", True),  # output overload
        (SR830LockIn, "8", False),  # reference unlock is not an overload
        (SR860LockIn, "0", False),
        (SR860LockIn, "16", True),  # input range
        (SR860LockIn, "1", True),  # CH1 output
        (SR860LockIn, "256", True),  # data channel 1
        (SR860LockIn, "8", False),  # external reference unlock
    ],
)
def test_overloaded_reads_latched_status(cls: type, reply: str, expected: bool) -> None:
    with expected_protocol(cls, [("LIAS?", reply)]) as lockin:
        assert lockin.overloaded() is expected


@pytest.mark.parametrize(("cls", "reply"), [(SR830LockIn, "256"), (SR830LockIn, "x"),
                                            (SR860LockIn, "-1"), (SR860LockIn, "1.5")])
def test_overloaded_rejects_garbled_status(cls: type, reply: str) -> None:
    with expected_protocol(cls, [("LIAS?", reply)]) as lockin, pytest.raises(LockInReplyError):
        lockin.overloaded()


def test_settle_time_uses_time_constant_and_slope() -> None:
    with expected_protocol(SR830LockIn, [("OFLT?", "8"), ("OFSL?", "3")]) as lockin:
        assert lockin.settle_time() == pytest.approx(settle_time_s(0.1, 24, 1e-3))
    with expected_protocol(SR860LockIn, [("OFLT?", "12"), ("OFSL?", "0")]) as lockin:
        assert lockin.settle_time(1e-2) == pytest.approx(4.605170186, rel=1e-9)


def test_choose_sensitivity() -> None:
    with expected_protocol(SR830LockIn, []) as lockin:
        assert lockin.choose_sensitivity(7e-3) == 10e-3  # 7 mV / 0.8 = 8.75 mV -> 10 mV
        assert lockin.choose_sensitivity(-7e-3, headroom=1.0) == 10e-3
        assert lockin.choose_sensitivity(0.0) == 2e-9
        with pytest.raises(SensitivityRangeError):
            lockin.choose_sensitivity(0.9)
    with expected_protocol(SR860LockIn, []) as lockin:
        assert lockin.choose_sensitivity(0.5e-9) == 1e-9


def test_auto_range_in_range_reads_once() -> None:
    pairs = [("SENS?", "20"), ("LIAS?", "0"), ("OUTP?3", "5e-3"), ("LIAS?", "0")]
    with expected_protocol(SR830LockIn, pairs) as lockin:
        assert lockin.auto_range() == 10e-3


def test_auto_range_steps_up_on_overload_then_down_to_fit() -> None:
    pairs = [
        ("SENS?", "17"),  # 1 mV
        ("LIAS?", "0"), ("OUTP?3", "1.1e-3"), ("LIAS?", "4"), ("SENS18", None),
        ("LIAS?", "0"), ("OUTP?3", "1.9e-3"), ("LIAS?", "0"), ("SENS19", None),
        ("LIAS?", "0"), ("OUTP?3", "3.0e-3"), ("LIAS?", "0"),
    ]
    with expected_protocol(SR830LockIn, pairs) as lockin:
        assert lockin.auto_range() == 5e-3


def test_auto_range_jumps_down_for_small_signal_and_sleeps() -> None:
    waits: list[float] = []
    pairs = [
        ("SCAL?", "0"),  # 1 V
        ("LIAS?", "0"), ("OUTP? 2", "2.0e-5"), ("LIAS?", "0"), ("SCAL 13", None),  # 50 uV
        ("OFLT?", "10"), ("OFSL?", "0"),
        ("LIAS?", "0"), ("OUTP? 2", "2.0e-5"), ("LIAS?", "0"),
    ]
    with expected_protocol(SR860LockIn, pairs) as lockin:
        assert lockin.auto_range(sleep=waits.append) == 50e-6
    assert waits == [pytest.approx(0.1 * 4.605170186)]


def test_auto_range_gives_up_after_max_steps() -> None:
    pairs = [("SENS?", "10")]
    for index in range(11, 13):
        pairs += [("LIAS?", "0"), ("OUTP?3", "1.0"), ("LIAS?", "4"), (f"SENS{index}", None)]
    pairs += [("LIAS?", "0"), ("OUTP?3", "1.0"), ("LIAS?", "4")]
    with expected_protocol(SR830LockIn, pairs) as lockin, pytest.raises(AutoRangeError,
                                                                        match="2 steps"):
        lockin.auto_range(max_steps=2)


def test_auto_range_raises_at_largest_scale() -> None:
    pairs = [("SENS?", "26"), ("LIAS?", "0"), ("OUTP?3", "1.05"), ("LIAS?", "4")]
    with expected_protocol(SR830LockIn, pairs) as lockin, pytest.raises(AutoRangeError,
                                                                        match="largest"):
        lockin.auto_range()
