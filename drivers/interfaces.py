"""The small interfaces procedures program against.

A procedure never names an instrument model: it asks for a :class:`LockIn`, a
:class:`FeedbackController`, a :class:`TemperatureController` or a :class:`TransportBridge`
(and a :class:`SweepStopper`, the controller's second link, to cut a sweep short).
A second lock-in model or another STM controller later means one new driver that satisfies the
same protocol, nothing else. Units are SI and stated in every name or docstring.

The concrete drivers: ``SR830LockIn`` / ``SR860LockIn`` (drivers/lockin.py, pymeasure subclasses),
``NanonisController`` (drivers/nanonis/client.py), ``LakeShore372`` (drivers/lakeshore372.py,
with :class:`LakeShoreTemperatureControl` and :class:`LakeShoreTransportBridge` adapters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LockIn(Protocol):
    """A dual-phase lock-in amplifier measuring the preamp output (volts rms)."""

    sensitivity: float  # full scale, V
    time_constant: float  # s
    filter_slope: int  # dB/octave: 6, 12, 18 or 24
    sine_voltage: float  # reference sine output amplitude, V rms
    frequency: float  # Hz

    def snap_xy(self) -> tuple[float, float]:
        """Measure X and Y (V rms) at one instant."""
        ...

    def status_bits(self) -> int:
        """Get the latched status register (reading clears it), e.g. before a sweep."""
        ...

    def overloaded(self) -> bool:
        """Get whether any input or output overload bit latched since the last call."""
        ...

    def settle_time(self, fraction: float = 1e-3) -> float:
        """Get the wait in s after a step for the output to settle within ``fraction``."""
        ...

    def route_xy_outputs(self) -> None:
        """Set the CH1 analog output to X and CH2 to Y (10 V at full scale), for a feedback
        controller that records them during its own sweep."""
        ...

    def xy_outputs_routed(self) -> bool:
        """Get whether CH1 and CH2 output X and Y as :meth:`route_xy_outputs` sets them."""
        ...


@runtime_checkable
class FeedbackController(Protocol):
    """An STM controller: bias, current, feedback loop, tip position, controller-run sweeps."""

    def set_bias(self, bias_V: float) -> None: ...

    def get_bias(self) -> float: ...

    def get_current(self) -> float:
        """Measure the tunnel current in A."""
        ...

    def set_current_gain(self, gain_V_per_A: float) -> None: ...

    def set_feedback(self, on: bool) -> None: ...

    def get_feedback(self) -> bool: ...

    def set_setpoint(self, current_A: float) -> None: ...

    def get_setpoint(self) -> float: ...

    def get_z(self) -> float:
        """Measure the tip height in m."""
        ...

    def withdraw(self, timeout_s: float = 10.0) -> None: ...

    def feedback_status(self) -> int:
        """Get the Z-controller status.

        1 off, 2 on, 3 hold, 4 switching off, 5 safe-tip event, 6 withdrawing.
        """
        ...

    def set_tip_position(self, x_m: float, y_m: float) -> None: ...

    def get_tip_position(self) -> tuple[float, float]: ...

    def bias_spectroscopy(
        self,
        start_V: float,
        stop_V: float,
        n_points: int,
        settle_s: float,
        integration_s: float,
        channels: Sequence[str] | None = None,
        **timing: float,
    ) -> dict[str, np.ndarray]:
        """Run a controller-side bias sweep; return channel name -> array (includes the bias).

        ``channels``: the signals recorded (None: the controller driver's default, its own
        lock-in among them); ``timing``: other sweep timing in s by name, e.g.
        ``initial_settling_s`` and ``end_settling_s`` (absent: left as they are).
        """
        ...


@runtime_checkable
class SweepStopper(Protocol):
    """Stops the feedback controller's running bias sweep from outside the blocked call.

    A controller-run sweep is one request that answers only when the sweep ends, so the stop
    must travel on another link (on the Nanonis, another TCP port).
    """

    def stop_bias_spectroscopy(self) -> None:
        """Stop the running sweep; the blocked call then returns the points measured so far."""
        ...

    def bias_spectroscopy_running(self) -> bool:
        """Get whether a bias sweep is running (also proves the link is served)."""
        ...


@runtime_checkable
class TemperatureController(Protocol):
    """A fridge temperature controller with one control loop and several thermometers."""

    def temperature(self, channel: str | int) -> float:
        """Measure a thermometer in K."""
        ...

    def set_control(
        self, setpoint_K: float, heater_range: int, pid: tuple[float, float, float]
    ) -> None: ...

    def heater_output(self) -> float:
        """Measure the sample-heater output in percent of the range."""
        ...

    def heater_off(self) -> None: ...


@runtime_checkable
class TransportBridge(Protocol):
    """A four-terminal resistance measurement of the film (for R(T) during a cooldown)."""

    def resistance(self) -> float:
        """Measure the film resistance in ohm."""
        ...
