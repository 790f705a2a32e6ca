"""The Lake Shore 372 seen through the framework's interfaces (drivers/interfaces.py).

:class:`LakeShoreTemperatureControl` is a ``TemperatureController``: thermometers by name, one
control loop. :class:`LakeShoreTransportBridge` is a ``TransportBridge``: the film's
four-terminal resistance on one scanner channel. Both refuse readings whose ``RDGST?`` status
says they are not measurements (overload, out of range, no curve), so a procedure never logs a
held or meaningless number as data. Neither waits nor moves the scanner: that is policy, which
belongs to procedures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .lakeshore372_types import (
    INPUT_IDS,
    OUTPUT_IDS,
    PID,
    RESISTANCE_INVALID,
    TEMPERATURE_INVALID,
    HeaterRange,
    LakeShoreReadingError,
    OutputMode,
    Scanner,
)

if TYPE_CHECKING:
    from .lakeshore372 import InputChannel, LakeShore372, OutputChannel


def _check_input_id(channel: str | int) -> str | int:
    if isinstance(channel, bool) or channel not in INPUT_IDS:
        raise ValueError(f"Lake Shore 372 input must be 'A' or 1-16, got {channel!r}")
    return channel


class LakeShoreTemperatureControl:
    """A TemperatureController over one LakeShore372.

    :param ls: the driver.
    :param control_output: the heater output of the control loop (0 sample, 1 warm-up,
        2 still heater).
    :param channels: thermometer name -> input ("A" or 1-16), e.g. ``{"mixing chamber": 6}``.
    """

    def __init__(
        self,
        ls: LakeShore372,
        control_output: int = 0,
        channels: Mapping[str, str | int] | None = None,
    ) -> None:
        if control_output not in OUTPUT_IDS:
            raise ValueError(f"Lake Shore 372 output must be 0, 1 or 2, got {control_output!r}")
        self.ls = ls
        self.control_output = control_output
        self.channels: dict[str, str | int] = {
            name: _check_input_id(channel) for name, channel in (channels or {}).items()
        }

    @property
    def output(self) -> OutputChannel:
        return self.ls.outputs[self.control_output]

    def input(self, channel: str | int) -> InputChannel:
        """The driver channel for a thermometer name, an input number or "A"."""
        if isinstance(channel, str) and channel in self.channels:
            return self.ls.channels[self.channels[channel]]
        if isinstance(channel, str) and channel != "A":
            known = ", ".join(repr(name) for name in self.channels) or "none configured"
            raise KeyError(f"unknown thermometer {channel!r}; known: {known}")
        return self.ls.channels[_check_input_id(channel)]

    def temperature(self, channel: str | int) -> float:
        """Measure a thermometer in K (0-2000 K).

        A scanner channel reads valid only once the scanner has sat on it for its pause and
        dwell (see :meth:`scan`); before that the 372 returns a held or zero reading.

        :raises LakeShoreReadingError: the status bits say the reading is not valid.
        """
        sensor = self.input(channel)
        kelvin = sensor.kelvin
        status = sensor.reading_status
        if status & TEMPERATURE_INVALID:
            raise LakeShoreReadingError(sensor.id, status)
        return kelvin

    def scan(self, channel: str | int, autoscan: bool = False) -> float:
        """Move the scanner to a thermometer; return the wait in s before it reads valid.

        The wait is the channel's pause + dwell (``INSET``, 4-400 s); the control input "A"
        has its own bridge and needs none. The caller waits on its clock: a driver never
        sleeps.
        """
        sensor = self.input(channel)
        if sensor.id == "A":
            return 0.0
        self.ls.scanner = Scanner(int(sensor.id), autoscan)
        setup = sensor.setup
        return float(setup.pause_s + setup.dwell_s)

    def set_control(
        self, setpoint_K: float, heater_range: int, pid: tuple[float, float, float]
    ) -> None:
        """Set closed-loop control: PID, setpoint (K), then the heater range (0-8).

        The range goes last so the heater only powers up once the loop is configured; the
        output is switched to closed-loop mode if it was not, keeping its control input.
        """
        output = self.output
        setup = output.setup
        if setup.mode != OutputMode.CLOSED_LOOP:
            output.setup = setup._replace(mode=OutputMode.CLOSED_LOOP)
        output.pid = PID(*pid)
        output.setpoint = setpoint_K
        output.heater_range = heater_range

    def heater_output(self) -> float:
        """Measure the control output in % of its range (0-100 %)."""
        if self.control_output == 0:
            return self.ls.sample_heater_output
        return self.output.output

    def heater_off(self) -> None:
        """Switch the control output off (range 0)."""
        self.output.heater_range = HeaterRange.OFF


class LakeShoreTransportBridge:
    """A TransportBridge: the film's four-terminal resistance on one input.

    :param ls: the driver.
    :param channel: the input wired to the film ("A" or 1-16).
    """

    def __init__(self, ls: LakeShore372, channel: str | int) -> None:
        self.ls = ls
        self.channel = _check_input_id(channel)

    def resistance(self) -> float:
        """Measure the film resistance in ohm (0-63.2 Mohm).

        The temperature bits are ignored: the film has no calibration curve.

        :raises LakeShoreReadingError: an overload or resistance-range bit is set.
        """
        sensor = self.ls.channels[self.channel]
        ohms = sensor.resistance
        status = sensor.reading_status
        if status & RESISTANCE_INVALID:
            raise LakeShoreReadingError(self.channel, status)
        return ohms
