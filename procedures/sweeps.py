"""The measurement procedures: pymeasure Procedures whose body is a list of points.

Each procedure's Parameters are what the GUI form and the command line edit; ``points()``
turns them into the plan the engine runs (so a plan can be listed and limit-checked before
anything moves). A point is one spectrum at one (temperature, position, setpoint, repeat).

    SetpointSweep      I_sp stepped log-spaced (1 nA .. 1 uA) at V_sp, at one temperature
    TemperatureSweep   one contact setpoint, temperatures from base to above Tc
    OvernightGrid      temperature x position x setpoint x repeat
    PositionSurvey     each position at a low (E_g) and a high (Delta_c) setpoint (Fig. 3)
    SingleSpectrum     one spectrum, for quick checks
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
from pymeasure.experiment import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
    Procedure,
)

from stm_andreev.config_plan import Acquisition, values_of

from .spectroscopy import SpectrumSettings


@dataclass(frozen=True)
class Point:
    """One spectrum of a plan."""

    index: int
    step_index: int
    step_label: str
    setpoint_A: float
    temperature_K: float | None  # None: take it at whatever temperature the fridge is
    position_m: tuple[float, float] | None  # None: wherever the tip is
    repeat: int
    settings: SpectrumSettings

    @property
    def key(self) -> str:
        T = "-" if self.temperature_K is None else f"{self.temperature_K:.6g}K"
        xy = (
            "-"
            if self.position_m is None
            else f"{self.position_m[0]:.3g},{self.position_m[1]:.3g}m"
        )
        return f"{self.step_index}:{self.step_label}|T={T}|xy={xy}|I={self.setpoint_A:.6g}A|r{self.repeat}"


class SpectrumProcedure(Procedure):
    """Parameters every spectrum needs (SI units; the GUI shows them in these units)."""

    V_sp_V = FloatParameter("Setpoint bias", units="V", default=-3e-3, minimum=-10, maximum=10)
    bias_start_V = FloatParameter("Bias start", units="V", default=-1.5e-3, minimum=-10, maximum=10)
    bias_stop_V = FloatParameter("Bias stop", units="V", default=1.5e-3, minimum=-10, maximum=10)
    n_bias = IntegerParameter("Bias points", default=301, minimum=2, maximum=100_000)
    acquisition = ListParameter("Acquisition", choices=list(get_args(Acquisition)),
                                default="lockin")
    modulation_Vrms = FloatParameter("Modulation", units="V", default=20e-6, minimum=0, maximum=1)
    modulation_frequency_Hz = FloatParameter("Modulation frequency", units="Hz", default=377.0)
    settle_s = FloatParameter("Settle per point", units="s", default=0.1, minimum=0)
    integration_s = FloatParameter("Integration per point", units="s", default=0.1, minimum=0)
    feedback_settle_s = FloatParameter("Feedback settle", units="s", default=1.0, minimum=0)
    settle_z_timeout_s = FloatParameter("z settle timeout", units="s", default=30.0, minimum=0)
    # 0: chosen per setpoint decade for the signal-to-noise (the plan's null)
    lockin_time_constant_s = FloatParameter("Lock-in time constant (0 = auto)", units="s",
                                            default=0.0, minimum=0)
    lockin_filter_slope_db = ListParameter("Lock-in filter slope", choices=[6, 12, 18, 24],
                                           units="dB/oct", default=24)
    label = Parameter("Label", default="")

    DATA_COLUMNS = ["Bias (V)", "G (S)", "X (V)", "Y (V)"]

    #: plan-file step kind this procedure runs
    kind = ""

    @classmethod
    def from_step(cls, step) -> SpectrumProcedure:
        """A procedure with its parameters taken from a validated plan step."""
        proc = cls()
        for name in proc.parameter_objects():
            if hasattr(step, name) and getattr(step, name) is not None:
                setattr(proc, name, _plain(getattr(step, name)))
        proc.label = step.label or step.kind
        proc._step = step
        return proc

    def spectrum_settings(self) -> SpectrumSettings:
        return SpectrumSettings(
            V_sp_V=self.V_sp_V,
            bias_V=np.linspace(self.bias_start_V, self.bias_stop_V, int(self.n_bias)),
            acquisition=self.acquisition,
            modulation_Vrms=self.modulation_Vrms,
            modulation_frequency_Hz=self.modulation_frequency_Hz,
            settle_s=self.settle_s,
            integration_s=self.integration_s,
            feedback_settle_s=self.feedback_settle_s,
            settle_z_timeout_s=self.settle_z_timeout_s,
            lockin_time_constant_s=float(self.lockin_time_constant_s) or None,
            lockin_filter_slope_db=int(self.lockin_filter_slope_db),
        )

    def grid(self) -> list[tuple[float | None, tuple[float, float] | None, float, int]]:
        """(temperature, position, setpoint, repeat) of every point, in measurement order."""
        raise NotImplementedError

    def points(self, step_index: int, first_index: int) -> list[Point]:
        settings = self.spectrum_settings()
        return [
            Point(first_index + i, step_index, str(self.label), float(I), T, xy, rep, settings)
            for i, (T, xy, I, rep) in enumerate(self.grid())
        ]

    def execute(self) -> None:
        """Stand-alone pymeasure use is not supported: runs go through the engine."""
        raise RuntimeError(
            f"{type(self).__name__} runs through stm_andreev.engine (stm-andreev run), "
            "which owns checkpoints, interlocks and the run file"
        )


class SetpointSweep(SpectrumProcedure):
    kind = "setpoint_sweep"
    I_start_A = FloatParameter(
        "Start setpoint", units="A", default=1e-9, minimum=1e-13, maximum=1e-3
    )
    I_stop_A = FloatParameter("Stop setpoint", units="A", default=1e-6, minimum=1e-13, maximum=1e-3)
    n_setpoints = IntegerParameter("Setpoints", default=31, minimum=1, maximum=10_000)
    log_spacing = BooleanParameter("Log spacing", default=True)
    temperature_K = FloatParameter("Temperature (0 = as is)", units="K", default=0.0, minimum=0)

    @classmethod
    def from_step(cls, step) -> SetpointSweep:
        proc = super().from_step(step)
        proc.log_spacing = step.spacing == "log"
        proc.temperature_K = step.temperature_K or 0.0
        proc._position = None if step.position_m is None else tuple(step.position_m)
        return proc

    def grid(self):
        make = np.geomspace if self.log_spacing else np.linspace
        setpoints = make(self.I_start_A, self.I_stop_A, int(self.n_setpoints))
        T = self.temperature_K or None
        xy = getattr(self, "_position", None)
        return [(T, xy, I, 0) for I in setpoints]


class TemperatureSweep(SpectrumProcedure):
    kind = "temperature_sweep"
    setpoint_A = FloatParameter("Setpoint", units="A", default=1e-6, minimum=1e-13, maximum=1e-3)
    temperatures_K = Parameter("Temperatures (K, comma separated)", default="0.065, 1.6")

    @classmethod
    def from_step(cls, step) -> TemperatureSweep:
        proc = super().from_step(step)
        proc.temperatures_K = ", ".join(f"{T:g}" for T in step.temperature_sequence_K())
        proc._position = None if step.position_m is None else tuple(step.position_m)
        return proc

    def temperatures(self) -> list[float]:
        return [float(t) for t in str(self.temperatures_K).split(",") if t.strip()]

    def grid(self):
        xy = getattr(self, "_position", None)
        return [(T, xy, self.setpoint_A, 0) for T in self.temperatures()]


class OvernightGrid(SpectrumProcedure):
    kind = "overnight_grid"
    repeats = IntegerParameter("Repeats", default=1, minimum=1)

    @classmethod
    def from_step(cls, step) -> OvernightGrid:
        proc = super().from_step(step)
        proc._temperatures = [float(t) for t in step.temperature_sequence_K()]
        proc._positions = [tuple(p) for p in step.position_sequence_m()]
        proc._setpoints = [float(i) for i in np.ravel(values_of(step.setpoints_A))]
        return proc

    def grid(self):
        return [
            (T, xy, I, rep)
            for T in self._temperatures
            for xy in self._positions
            for I in self._setpoints
            for rep in range(int(self.repeats))
        ]


class PositionSurvey(SpectrumProcedure):
    kind = "position_survey"
    low_setpoint_A = FloatParameter("Low (tunnelling) setpoint", units="A", default=1e-9)
    high_setpoint_A = FloatParameter("High (contact) setpoint", units="A", default=1e-6)

    @classmethod
    def from_step(cls, step) -> PositionSurvey:
        proc = super().from_step(step)
        proc._positions = [tuple(p) for p in step.position_sequence_m()]
        proc._temperature = getattr(step, "temperature_K", None)
        return proc

    def grid(self):
        return [
            (self._temperature, xy, I, 0)
            for xy in self._positions
            for I in (self.low_setpoint_A, self.high_setpoint_A)
        ]


class SingleSpectrum(SpectrumProcedure):
    kind = "single_spectrum"
    setpoint_A = FloatParameter("Setpoint", units="A", default=1e-9, minimum=1e-13, maximum=1e-3)

    @classmethod
    def from_step(cls, step) -> SingleSpectrum:
        proc = super().from_step(step)
        proc._temperature = getattr(step, "temperature_K", None)
        proc._position = (
            None if getattr(step, "position_m", None) is None else tuple(step.position_m)
        )
        return proc

    def grid(self):
        return [(self._temperature, self._position, self.setpoint_A, 0)]


PROCEDURES: dict[str, type[SpectrumProcedure]] = {
    cls.kind: cls
    for cls in (SetpointSweep, TemperatureSweep, OvernightGrid, PositionSurvey, SingleSpectrum)
}


def plan_points(plan) -> list[Point]:
    """Every spectrum of a validated plan, numbered in measurement order."""
    points: list[Point] = []
    for step_index, step in enumerate(plan.steps):
        if step.kind not in PROCEDURES:
            raise ValueError(
                f"steps.{step_index}: kind {step.kind!r} takes no spectra; the spectrum "
                f"procedures are {', '.join(PROCEDURES)}"
            )
        proc = PROCEDURES[step.kind].from_step(step)
        points.extend(proc.points(step_index, len(points)))
    return points


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
