"""A plan against a station: limit violations and an estimate of how long the plan takes.

Both read the steps only through their common accessors (setpoint sequence, temperatures,
bias extremes), so a new step kind needs no change here. The time of a spectrum comes from the
timing rules the sweeps themselves use (:mod:`.bias_sweeps`: the wait per point and the time of
a sweep in each acquisition mode), so the estimate cannot drift from what the procedures do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stm_andreev.config.base import duration_text, si
from stm_andreev.config.errors import ConfigProblem, PlanLimitError
from stm_andreev.config.plan import CooldownStep, GridStep, PlanConfig, SpectrumParams
from stm_andreev.config.station import StationConfig
from stm_andreev.drivers.nanonis.client import MAX_POINT_TIME_S
from stm_andreev.drivers.preamp import DEFAULT_GAINS_V_PER_A, settings_for_setpoint

from .bias_sweeps import filter_settle_s, point_wait_s, sweep_time_s
from .continuous import continuous_sweep_time_s

#: Lock-in drivers with a capture buffer (``acquisition: continuous`` records through it).
CAPTURE_DRIVERS = frozenset({"sr860"})


def plan_size_violations(plan: PlanConfig, station: StationConfig) -> list[str]:
    """The plan's spectrum count and estimated duration against ``limits.max_plan_spectra``
    and ``limits.max_plan_duration_days`` (counted without building the plan's arrays; the
    duration is estimated only for a plan whose count is within the limit)."""
    limits = station.limits
    n = plan.n_spectra
    if n > limits.max_plan_spectra:
        return [f"steps: the plan has {n} spectra; limits.max_plan_spectra is "
                f"{limits.max_plan_spectra}"]
    try:
        days = estimate_plan(plan, station).min_s / 86400.0
    except ValueError:  # e.g. a setpoint no preamp gain can take: reported by its own check
        return []
    if not days <= limits.max_plan_duration_days:
        return [f"steps: the plan takes at least {days:.3g} days; limits.max_plan_duration_days is "
                f"{limits.max_plan_duration_days:g}"]
    return []


def check_plan_against_station(plan: PlanConfig, station: StationConfig) -> list[str]:
    """List every way ``plan`` exceeds ``station``'s limits (empty list: the plan fits).

    Each entry starts with the plan key path (``steps.1.temperatures_K``) and names the limit.
    The applied bias is checked with the modulation peak added (sqrt(2) x Vrms), since that
    is what reaches the junction, in the modes whose modulation is the external lock-in's
    sine (``lockin``, ``controller_lockin``).
    """
    limits = station.limits
    tc = station.temperature_control
    roles = dict(station.roles.items())
    violations: list[str] = plan_size_violations(plan, station)
    if violations:
        return violations  # the checks below walk every spectrum: not for a plan this size
    for index, step in enumerate(plan.steps):
        at = plan.step_key(index)
        if isinstance(step, SpectrumParams):
            external = step.uses_external_lockin
            peak = math.sqrt(2) * step.modulation_Vrms if external else 0.0
            for key in ("V_sp_V", "bias_start_V", "bias_stop_V"):
                applied = abs(getattr(step, key)) + (0.0 if key == "V_sp_V" else peak)
                if applied > limits.max_bias_V * (1 + 1e-12):
                    extra = (f" (with {si(peak, 'V')} modulation peak)"
                             if peak and key != "V_sp_V" else "")
                    violations.append(
                        f"{at}{key}: |bias| {si(applied, 'V')}{extra} exceeds "
                        f"limits.max_bias_V {si(limits.max_bias_V, 'V')}")
            if external and step.modulation_Vrms > limits.max_modulation_Vrms:
                violations.append(
                    f"{at}modulation_Vrms: {si(step.modulation_Vrms, 'Vrms')} exceeds "
                    f"limits.max_modulation_Vrms {si(limits.max_modulation_Vrms, 'Vrms')}")
            if external and "lockin" not in roles:
                violations.append(f"{at}acquisition: {step.acquisition} needs a lockin role in "
                                  "the station")
            elif step.acquisition == "controller_lockin":
                violations.extend(_controller_settling_violations(at, step, station))
            elif (step.acquisition == "continuous"
                  and station.instruments[roles["lockin"]].driver not in CAPTURE_DRIVERS):
                violations.append(
                    f"{at}acquisition: continuous records the lock-in's capture buffer, which "
                    f"only the SR860 has; the station's lock-in is "
                    f"{station.instruments[roles['lockin']].driver}")
        violations.extend(_scan_range_violations(at, step, station))
        setpoints = step.setpoint_sequence_A()
        if setpoints.size and setpoints.max() > limits.max_setpoint_A * (1 + 1e-12):
            violations.append(
                f"{at}{_setpoint_key(step)}: setpoint {si(float(setpoints.max()), 'A')} exceeds "
                f"limits.max_setpoint_A {si(limits.max_setpoint_A, 'A')}")
        temps = step.temperature_sequence_K()
        if isinstance(step, CooldownStep):
            temps = np.array([step.target_K])
        for T in temps:
            if T > limits.temperature_ceiling_K * (1 + 1e-12):
                violations.append(
                    f"{at}{_temperature_key(step)}: {si(T, 'K')} exceeds "
                    f"limits.temperature_ceiling_K {si(limits.temperature_ceiling_K, 'K')}")
            elif T > tc.max_K and not isinstance(step, CooldownStep):
                violations.append(
                    f"{at}{_temperature_key(step)}: {si(T, 'K')} lies above the last "
                    f"temperature_control band ({si(tc.max_K, 'K')}); no heater range for it")
    return violations


def _scan_range_violations(at: str, step, station: StationConfig) -> list[str]:
    """Every place the step may send the tip to (a grid's whole rotated area, widened by its
    drift allowance, and its drift reference lines) against ``limits.scan_range_m``."""
    scan = station.limits.scan_range_m
    extent = step.scan_extent_m()
    if scan is None:
        if isinstance(step, GridStep):
            return [f"{at}kind: a grid needs the piezo's scan range in the station file "
                    "(limits.scan_range_m: [[x_min, x_max], [y_min, y_max]], m)"]
        return []
    if not len(extent):
        return []
    (x0, x1), (y0, y1) = scan
    tol = 1e-12 * max(abs(x0), abs(x1), abs(y0), abs(y1))
    outside = ((extent[:, 0] < x0 - tol) | (extent[:, 0] > x1 + tol)
               | (extent[:, 1] < y0 - tol) | (extent[:, 1] > y1 + tol))
    if not outside.any():
        return []
    x, y = extent[outside][0]
    key = ("size_m" if isinstance(step, GridStep) else
           "grid" if getattr(step, "grid", None) is not None else "positions_m"
           if "positions_m" in type(step).model_fields else "position_m")
    what = (" (the grid's rotated area" + (", widened by drift_max_m," if
            isinstance(step, GridStep) and step.drift_every else "") + " or its drift lines)"
            if isinstance(step, GridStep) else "")
    return [f"{at}{key}: the tip would go to ({si(float(x), 'm')}, {si(float(y), 'm')}){what}, "
            f"outside limits.scan_range_m x [{si(x0, 'm')}, {si(x1, 'm')}], "
            f"y [{si(y0, 'm')}, {si(y1, 'm')}]"]


def _setpoint_key(step: object) -> str:
    for key in ("setpoints_A", "setpoint_A", "I_stop_A", "high_setpoint_A"):
        if key in type(step).model_fields:
            return key
    return "setpoint"


def _temperature_key(step: object) -> str:
    for key in ("temperatures_K", "temperature_K", "target_K"):
        if key in type(step).model_fields:
            return key
    return "temperature"


@dataclass(frozen=True)
class StepEstimate:
    """Counts and time bounds for one step (seconds)."""

    index: int
    n_spectra: int
    n_points: int
    min_s: float
    max_s: float


@dataclass(frozen=True)
class PlanEstimate:
    """How big and how long a plan is on a station.

    ``min_s`` assumes every temperature is reached at once (only the settle dwell is waited)
    and ``max_s`` that each temperature change runs to its settle timeout and every cooldown
    to its maximum duration; setpoint ramps at ``limits.setpoint_ramp_A_per_s`` are in both.
    """

    steps: tuple[StepEstimate, ...]

    @property
    def n_spectra(self) -> int:
        return sum(s.n_spectra for s in self.steps)

    @property
    def n_points(self) -> int:
        return sum(s.n_points for s in self.steps)

    @property
    def min_s(self) -> float:
        return sum(s.min_s for s in self.steps)

    @property
    def max_s(self) -> float:
        return sum(s.max_s for s in self.steps)

    def text(self) -> str:
        if math.isclose(self.min_s, self.max_s):
            return f"about {duration_text(self.min_s)}"
        return f"at least {duration_text(self.min_s)}, at most {duration_text(self.max_s)}"


def _controller_settling_violations(at: str, step: SpectrumParams, station: StationConfig
                                   ) -> list[str]:
    """In controller_lockin mode the controller settles each point for the lock-in filter's
    wait, which at low setpoints can exceed what the controller accepts."""
    out = []
    for I in np.unique(step.setpoint_sequence_A()):
        wait = lockin_point_wait_s(step, float(I), station)
        if wait > MAX_POINT_TIME_S:
            out.append(
                f"{at}acquisition: controller_lockin at setpoint {si(float(I), 'A')} needs "
                f"{wait:.3g} s of controller settling per point (the lock-in filter's settle "
                f"time), above the controller's {MAX_POINT_TIME_S:g} s; use acquisition: "
                f"lockin, or a shorter lockin_time_constant_s")
            break  # one line per step: the lowest setpoint is the worst
    return out


def lockin_point_wait_s(step: SpectrumParams, setpoint_A: float, station: StationConfig
                        ) -> float:
    """The wait per bias point with the external lock-in at ``setpoint_A``: the sweeps' own
    rule (:func:`.bias_sweeps.point_wait_s`) for the filter the procedure sets at this
    setpoint's decade (from the station's lock-in model and preamp gains)."""
    chosen = _lockin_filter(step, setpoint_A, station)
    return point_wait_s(step.settle_s,
                        filter_settle_s(chosen.time_constant_s, chosen.filter_slope_db))


def _lockin_filter(step: SpectrumParams, setpoint_A: float, station: StationConfig):
    """The lock-in settings the procedure chooses at this setpoint's decade."""
    driver = station.instruments[station.roles.lockin].driver.upper()
    gains = (tuple(station.preamp.gains_V_per_A) if station.preamp is not None
             else DEFAULT_GAINS_V_PER_A)
    return settings_for_setpoint(setpoint_A, step, gains, driver)[1]


def spectrum_time_s(step: SpectrumParams, setpoint_A: float,
                    station: StationConfig | None = None) -> float:
    """Station time of one spectrum of ``step`` at ``setpoint_A``: the feedback settle plus the
    sweep's time by the sweeps' own rule (:func:`.bias_sweeps.sweep_time_s`). Without a
    station the lock-in's filter is unknown, and a lock-in mode counts the nominal
    ``settle_s + integration_s`` per point."""
    if station is None and step.uses_external_lockin:
        return step.spectrum_time_s()
    if step.acquisition == "continuous":
        chosen = _lockin_filter(step, setpoint_A, station)
        return step.feedback_settle_s + continuous_sweep_time_s(
            step.n_bias, chosen.time_constant_s, chosen.filter_slope_db, step.ramp_dwell_fraction,
            step.ramp_directions, step.ramp_noise_ratio)
    wait = (lockin_point_wait_s(step, setpoint_A, station) if step.uses_external_lockin
            else step.settle_s)
    return step.feedback_settle_s + sweep_time_s(step.acquisition, step.n_bias, wait,
                                                 step.integration_s)


def estimate_plan(plan: PlanConfig, station: StationConfig | None = None) -> PlanEstimate:
    """Estimate spectra, bias points and duration of ``plan`` (see :class:`PlanEstimate`).

    Without a station, temperature settling and setpoint ramps count as zero.
    """
    settle = station.temperature_control.settle if station is not None else None
    ramp = station.limits.setpoint_ramp_A_per_s if station is not None else math.inf
    out = []
    previous_setpoint: float | None = None
    for index, step in enumerate(plan.steps):
        if isinstance(step, CooldownStep):
            out.append(StepEstimate(index, 0, 0, step.interval_s, step.max_duration_s))
            continue
        setpoints = step.setpoint_sequence_A()
        path = np.abs(np.diff(setpoints)).sum() if setpoints.size > 1 else 0.0
        if previous_setpoint is not None and setpoints.size:
            path += abs(setpoints[0] - previous_setpoint)
        if setpoints.size:
            previous_setpoint = float(setpoints[-1])
        ramp_s = float(path) / ramp
        # Each distinct setpoint timed once: a grid has thousands of spectra at one setpoint.
        levels, counts = np.unique(setpoints, return_counts=True)
        spectra_s = sum(n * spectrum_time_s(step, float(I), station)
                        for I, n in zip(levels, counts, strict=True))
        ramp_s += step.overhead_s(ramp)
        n_temps = len(step.temperature_sequence_K())
        dwell = n_temps * settle.dwell_s if settle else 0.0
        timeout = n_temps * settle.timeout_s if settle else 0.0
        out.append(StepEstimate(index, step.n_spectra, step.n_spectra * step.n_bias,
                                spectra_s + ramp_s + dwell, spectra_s + ramp_s + timeout))
    return PlanEstimate(tuple(out))


def require_plan_fits_station(plan: PlanConfig, station: StationConfig,
                              file: str | None = None) -> None:
    """Raise :class:`PlanLimitError` listing every limit the plan exceeds (engine entry check)."""
    violations = check_plan_against_station(plan, station)
    if violations:
        problems = []
        for text in violations:
            key, _, message = text.partition(": ")
            problems.append(ConfigProblem(tuple(key.split(".")), message))
        # Named by the file the user gave (the plan's name: may say something else entirely).
        raise PlanLimitError(file or plan.source_file or plan.name, problems)
