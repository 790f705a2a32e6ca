"""Any reply string into any LakeShore372 getter: a value or a documented error, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymeasure.adapters import Adapter

from stm_andreev.drivers.lakeshore372 import (
    AuxHeaterOutput,
    InputChannel,
    LakeShore372,
    LakeShoreError,
    SampleHeaterOutput,
)
from stm_andreev.drivers.lakeshore372_types import TEMPERATURE_INVALID


class ReplyAdapter(Adapter):
    """Answers every read with ``self.reply``; records writes."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = ""
        self.written: list[str] = []

    def _write(self, command: str, **kwargs: Any) -> None:
        self.written.append(command)

    def _read(self, **kwargs: Any) -> str:
        return self.reply


def _getters() -> list[tuple[str, str]]:
    """(target attribute, property) for every readable property of the driver."""
    targets = {"": LakeShore372, "ch_A": InputChannel, "ch_9": InputChannel,
               "sample_heater": SampleHeaterOutput, "still_heater": AuxHeaterOutput}
    found = []
    for target, cls in targets.items():
        for name in dir(cls):
            attr = getattr(cls, name)
            if isinstance(attr, property) and attr.fget.__defaults__:
                found.append((target, name))
    found.append(("", "id"))
    return found


GETTERS = _getters()
ADAPTER = ReplyAdapter()
INSTRUMENT = LakeShore372(ADAPTER)

# Replies that look almost right are the interesting ones: numbers, commas, signs, letters.
lakeshore_like = st.text(alphabet="0123456789+-.,;EeA :nainf_\t", max_size=30)
any_text = st.text(max_size=40)


def test_every_getter_is_exercised() -> None:
    assert len(GETTERS) >= 20


@settings(max_examples=300, deadline=None)
@given(reply=st.one_of(lakeshore_like, any_text), index=st.integers(0, len(GETTERS) - 1))
def test_random_reply_gives_value_or_documented_error(reply: str, index: int) -> None:
    target, prop = GETTERS[index]
    ADAPTER.reply = reply
    obj = getattr(INSTRUMENT, target) if target else INSTRUMENT
    try:
        getattr(obj, prop)
    except (ValueError, LakeShoreError):
        pass


@settings(max_examples=200, deadline=None)
@given(reply=st.one_of(lakeshore_like, any_text))
def test_temperature_adapter_raises_only_documented_errors(reply: str) -> None:
    from stm_andreev.drivers.lakeshore372_adapters import LakeShoreTemperatureControl

    ADAPTER.reply = reply
    control = LakeShoreTemperatureControl(INSTRUMENT, channels={"mixing chamber": 6})
    try:
        value = control.temperature("mixing chamber")
    except (ValueError, LakeShoreError):
        return
    # Reaching here means the same reply parsed as kelvin and as a valid (0) status.
    assert isinstance(value, float)
    assert not int(reply) & TEMPERATURE_INVALID


@pytest.mark.parametrize("reply", ["0", "+0", "000"])
def test_zero_status_reply_is_a_valid_reading(reply: str) -> None:
    ADAPTER.reply = reply
    assert int(INSTRUMENT.ch_6.reading_status) == 0


# ------------------------------------------------------------------ the set side

SETTERS = [
    ("sample_heater", "setpoint", (0.0, 400.0)),
    ("sample_heater", "manual_output", (0.0, 100.0)),
    ("still_heater", "setpoint", (0.0, 400.0)),
]


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, len(SETTERS) - 1),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 1000)))
def test_scalar_setters_send_the_value_or_refuse(index: int, value: float) -> None:
    target, prop, (low, high) = SETTERS[index]
    ADAPTER.written.clear()
    ADAPTER.reply = "0"
    try:
        setattr(getattr(INSTRUMENT, target), prop, value)
    except ValueError:
        assert ADAPTER.written == []  # refused before anything went out
        assert not low <= value <= high
        return
    assert low <= value <= high  # never clipped into range
    command, esr = ADAPTER.written
    assert esr == "*ESR?"
    assert float(command.split(",")[1]) == pytest.approx(value, rel=1e-5, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(fields=st.tuples(st.integers(-2, 3), st.integers(-1, 250), st.integers(-1, 250),
                        st.integers(-1, 70), st.integers(-1, 4)))
def test_input_setup_sends_exact_fields_or_refuses(fields: tuple[int, ...]) -> None:
    ADAPTER.written.clear()
    ADAPTER.reply = "0"
    try:
        INSTRUMENT.ch_3.setup = fields
    except ValueError:
        assert ADAPTER.written == []
        return
    assert ADAPTER.written[0] == "INSET 3," + ",".join(str(f) for f in fields)
