"""A validated plan compiled into the list of spectra the engine takes, once.

Each spectrum step of the plan file lists its spectra itself
(:meth:`~stm_andreev.config.plan.SetpointSweepStep.grid_points`: temperature, position,
setpoint, repeat, in measurement order) and carries the spectrum parameters; this module
numbers them into :class:`Point` s with one :class:`SpectrumSettings` per step, whose bias grid
is the step's own :meth:`~stm_andreev.config.plan.SpectrumParams.bias_V`. The limit check, the
estimate, the engine, the GUI's preview and the cooldown split all read this one list.
"""

from __future__ import annotations

from dataclasses import dataclass

from stm_andreev.config.plan import GridStep, PlanConfig, SpectrumParams

from .grid import GridPixel, grid_move
from .spectrum import SpectrumSettings


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
    grid: GridPixel | None = None  # a pixel of a grid step: moved to tip-safely, mapped

    @property
    def key(self) -> str:
        T = "-" if self.temperature_K is None else f"{self.temperature_K:.6g}K"
        xy = (
            "-"
            if self.position_m is None
            else f"{self.position_m[0]:.3g},{self.position_m[1]:.3g}m"
        )
        return f"{self.step_index}:{self.step_label}|T={T}|xy={xy}|I={self.setpoint_A:.6g}A|r{self.repeat}"


def spectrum_settings(step: SpectrumParams) -> SpectrumSettings:
    """How every spectrum of ``step`` is taken."""
    return SpectrumSettings(
        V_sp_V=step.V_sp_V,
        bias_V=step.bias_V(),
        acquisition=step.acquisition,
        modulation_Vrms=step.modulation_Vrms,
        modulation_frequency_Hz=step.modulation_frequency_Hz,
        settle_s=step.settle_s,
        integration_s=step.integration_s,
        feedback_settle_s=step.feedback_settle_s,
        settle_z_timeout_s=step.settle_z_timeout_s,
        lockin_time_constant_s=step.lockin_time_constant_s,
        lockin_filter_slope_db=step.lockin_filter_slope_db,
        ramp_dwell_fraction=step.ramp_dwell_fraction,
        ramp_directions=step.ramp_directions,
        ramp_noise_ratio=step.ramp_noise_ratio,
    )


def plan_points(plan: PlanConfig, first_step: int = 0) -> list[Point]:
    """Every spectrum of ``plan`` from step ``first_step`` on, numbered in measurement order.

    Step indices stay those of the plan file. A step that takes no spectra (``cooldown``)
    among them is refused: cooldown steps come first and are run by the cooldown monitor.
    """
    points: list[Point] = []
    for step_index, step in enumerate(plan.steps[first_step:], start=first_step):
        if not isinstance(step, SpectrumParams):
            raise ValueError(
                f"steps.{step_index}: kind {step.kind!r} takes no spectra; cooldown steps "
                "come first in a plan"
            )
        settings = spectrum_settings(step)
        label = step.label or step.kind
        first = len(points)
        move = grid_move(step, step_index, first) if isinstance(step, GridStep) else None
        points += [Point(first + i, step_index, label, g.setpoint_A, g.temperature_K,
                         g.position_m, g.repeat, settings,
                         None if move is None else GridPixel(move, i % move.nx, i // move.nx))
                   for i, g in enumerate(step.grid_points())]
    return points
