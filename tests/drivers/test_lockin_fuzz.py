"""Hypothesis: random reply text into the lock-in drivers raises only documented errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymeasure.adapters import Adapter

from stm_andreev.drivers.lockin import LockInReplyError, SR830LockIn, SR860LockIn


class ReplyAdapter(Adapter):
    """Answers every query with the same reply text (what a garbled line would look like)."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    def _write(self, command: str, **kwargs) -> None:
        pass

    def _read(self, **kwargs) -> str:
        return self.reply


READERS = {
    "sensitivity": lambda li: li.sensitivity,
    "time_constant": lambda li: li.time_constant,
    "filter_slope": lambda li: li.filter_slope,
    "sine_voltage": lambda li: li.sine_voltage,
    "frequency": lambda li: li.frequency,
    "x": lambda li: li.x,
    "magnitude": lambda li: li.magnitude,
    "snap_xy": lambda li: li.snap_xy(),
    "overloaded": lambda li: li.overloaded(),
    "settle_time": lambda li: li.settle_time(),
}

replies = st.one_of(
    st.text(max_size=40),
    st.lists(st.floats(allow_nan=True, allow_infinity=True).map(repr), min_size=0,
             max_size=4).map(",".join),
    st.integers(-5, 70000).map(str),
)


@pytest.mark.parametrize("cls", [SR830LockIn, SR860LockIn])
@pytest.mark.parametrize("reader", sorted(READERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=replies)
def test_random_replies_give_a_valid_value_or_a_reply_error(cls, reader: str, reply: str) -> None:
    lockin = cls(ReplyAdapter(reply))
    try:
        value = READERS[reader](lockin)
    except LockInReplyError:
        return
    if reader == "snap_xy":
        assert len(value) == 2 and all(math.isfinite(v) for v in value)
    elif reader == "overloaded":
        assert isinstance(value, bool)
    else:
        assert isinstance(value, float | int) and math.isfinite(value)
    if reader == "sensitivity":
        assert value in cls.MODEL.sensitivities_V
    if reader == "time_constant":
        assert value in cls.MODEL.time_constants_s
    if reader == "filter_slope":
        assert value in (6, 12, 18, 24)
