"""The plan file schema: what to measure, as a list of typed steps.

A plan file is either one step (``kind: setpoint_sweep`` plus its parameters at the top) or
``steps:`` listing several, run in order. Each step exposes the same few accessors
(``setpoint_sequence_A``, ``temperatures_K``, ``max_abs_bias_V``, ``n_spectra``...) so limit
checks and time estimates treat every kind alike; the procedures read the typed fields.

Units are SI and in every name: V, A, K, s, m, Vrms (rms modulation at the junction).
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from stm_andreev.config.base import (
    NonNegativeFloat,
    PositiveFloat,
    Strict,
    Sweep,
    check_file_name_part,
    duration_text,
    si,
    sweep_or_list_tag,
)
from stm_andreev.config.errors import KeyedValueError

STEP_KINDS = ("setpoint_sweep", "temperature_sweep", "overnight_grid", "position_survey",
              "cooldown", "single_spectrum", "grid")

MAX_POSITION_M = 1e-4  # beyond any piezo scan range: a larger number is a unit mistake
MAX_GRID_PIXELS_PER_SIDE = 4096

Temperature = Annotated[float, Field(gt=0, le=300)]
Current = Annotated[float, Field(gt=0, le=1e-3)]
Bias = Annotated[float, Field(ge=-10, le=10)]
Position = tuple[Annotated[float, Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)],
                 Annotated[float, Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)]]

ValuesOrSweep = Annotated[
    Annotated[list[float], Tag("list")] | Annotated[Sweep, Tag("sweep")],
    Discriminator(sweep_or_list_tag),
]


def values_of(spec: list[float] | Sweep) -> np.ndarray:
    """The numbers of a plan value given as a list or as a start/stop/n sweep."""
    return spec.values() if isinstance(spec, Sweep) else np.asarray(spec, dtype=float)




def _check_values(spec: list[float] | Sweep, low: float, high: float, what: str,
                  key: str) -> list[tuple[tuple[str | int, ...], str]]:
    """Range-check a list (blaming each bad item) or a sweep (blaming start/stop)."""
    if isinstance(spec, Sweep):
        items = [(("start",), spec.start), (("stop",), spec.stop)]
    else:
        if not spec:
            return [((key,), f"at least one {what} is needed")]
        items = [((i,), v) for i, v in enumerate(spec)]
    return [((key, *sub), f"{what} must be in ({low:g}, {high:g}]; got {v:g}")
            for sub, v in items if not low < v <= high]


#: Acquisition modes: point by point through the external lock-in (``lockin``), a sweep the
#: controller times and records with its own demodulator (``controller``) or with the external
#: lock-in's analog outputs wired to its inputs (``controller_lockin``), or a bias ramp through
#: the grid recorded by the SR860's capture buffer with the filter inverted (``continuous``,
#: docs/continuous.md).
Acquisition = Literal["lockin", "controller", "controller_lockin", "continuous"]
#: The modes whose signal is the external lock-in's (its sine out is the modulation).
EXTERNAL_LOCKIN_MODES = frozenset({"lockin", "controller_lockin", "continuous"})
#: The controller's initial and end settling (s) that a controller-run sweep (``controller``
#: and ``controller_lockin``) sets: none. The first point's settling already waits out the
#: filter after the jump from V_sp to the first bias, as point by point; nothing is read after
#: the last point. Sent with every sweep, so a run never depends on what an earlier step or
#: the controller's own panel left there; the plan estimate adds them.
CONTROLLER_SETTLING_S: dict[str, float] = {"initial_settling_s": 0.0, "end_settling_s": 0.0}


def _in_a_lockin_table(tau_s: float) -> bool:
    from stm_andreev.drivers.srs_tables import MODELS  # tables only: no instrument code runs

    return any(math.isclose(tau_s, t, rel_tol=1e-6)
               for model in MODELS.values() for t in model.time_constants_s)


class SpectrumParams(Strict):
    """One bias spectrum G(V) taken with the feedback open at a setpoint.

    The tip is stabilised in feedback at (``V_sp_V``, setpoint) for ``feedback_settle_s``,
    the loop opens, the bias steps from ``bias_start_V`` to ``bias_stop_V`` in ``n_bias``
    points. ``acquisition`` is ``lockin`` (external lock-in, ``modulation_Vrms`` at the
    junction: at each point one X/Y reading after the longer of ``settle_s`` and the lock-in
    filter's settle time; the filter's time constant does the integrating, ``integration_s``
    is not used), ``controller`` (the Nanonis runs the sweep itself with its own lock-in,
    waiting ``settle_s`` then averaging for ``integration_s`` at each point) or
    ``controller_lockin`` (the Nanonis times the sweep and records the external lock-in's X and
    Y outputs: the lock-in is set as in ``lockin`` mode, the controller waits the same
    per-point time as ``lockin`` mode, then averages for ``integration_s``) or ``continuous``
    (the lock-in set as in ``lockin`` mode; the bias walks through the grid spending
    ``ramp_dwell_fraction`` of the filter's settle time at each point while the SR860's capture
    buffer records X and Y; G on the grid is recovered by inverting the known filter, with a
    per-point uncertainty: docs/continuous.md).
    """

    V_sp_V: Bias = -3e-3
    bias_start_V: Bias = -1.5e-3
    bias_stop_V: Bias = 1.5e-3
    n_bias: int = Field(301, ge=2, le=100_000)
    acquisition: Acquisition = "lockin"
    modulation_Vrms: PositiveFloat = Field(20e-6, le=1.0)
    modulation_frequency_Hz: PositiveFloat = Field(377.0, le=102_000)
    settle_s: NonNegativeFloat = Field(0.1, le=600)
    integration_s: PositiveFloat = Field(0.1, le=600)
    feedback_settle_s: NonNegativeFloat = Field(1.0, le=3600)
    settle_z_timeout_s: PositiveFloat = Field(30.0, le=3600)
    # None: the lock-in time constant is chosen per setpoint decade for the signal-to-noise
    # the plan needs; a value fixes it (s, one of the lock-in's table values).
    lockin_time_constant_s: PositiveFloat | None = None
    lockin_filter_slope_db: Literal[6, 12, 18, 24] = 24
    # continuous: time at each bias point as a fraction of the filter's settle time (the
    # point-by-point wait); the first and last points are held one settle time longer.
    ramp_dwell_fraction: float = Field(0.28, gt=0.0, le=1.0)
    # continuous: one pass up the grid, or up and back down (each point visited twice, one
    # value per point estimated from both passes)
    ramp_directions: Literal["forward", "forward_backward"] = "forward"
    # continuous: instead of the fraction, the noise per point at full grid resolution
    # relative to one settled point-by-point reading; the dwell is then 1 / (2 ENBW ratio^2)
    ramp_noise_ratio: float | None = Field(None, gt=0.0, le=100.0)

    @model_validator(mode="after")
    def _bias(self) -> SpectrumParams:
        problems = []
        tau = self.lockin_time_constant_s
        if tau is not None and not _in_a_lockin_table(tau):
            problems.append((("lockin_time_constant_s",), f"{tau:g} s is not a time constant "
                             "of the SR830 or SR860 (1-3 steps per decade, e.g. 0.01, 0.03, 0.1)"))
        if self.V_sp_V == 0:
            problems.append((("V_sp_V",), "the setpoint bias must be non-zero (G = I/V)"))
        if self.bias_start_V == self.bias_stop_V:
            problems.append((("bias_stop_V",), f"must differ from bias_start_V "
                                               f"({self.bias_start_V} V)"))
        if problems:
            raise KeyedValueError(problems)
        return self

    @property
    def uses_external_lockin(self) -> bool:
        """Whether the signal is the external lock-in's (its sine out modulates the bias)."""
        return self.acquisition in EXTERNAL_LOCKIN_MODES

    def bias_V(self) -> np.ndarray:
        """The bias points of one spectrum, V."""
        return np.linspace(self.bias_start_V, self.bias_stop_V, self.n_bias)

    def spectrum_time_s(self) -> float:
        """Nominal time for one spectrum including the feedback settle, s."""
        return self.feedback_settle_s + self.n_bias * (self.settle_s + self.integration_s)

    def max_abs_bias_V(self) -> float:
        """Largest |bias| applied, V (setpoint bias and sweep ends; modulation not included)."""
        return max(abs(self.V_sp_V), abs(self.bias_start_V), abs(self.bias_stop_V))

    def _bias_text(self) -> str:
        return (f"{self.n_bias} bias points {si(self.bias_start_V, 'V')} to "
                f"{si(self.bias_stop_V, 'V')}, {self.acquisition}"
                + (f" {si(self.modulation_Vrms, 'Vrms')}" if self.uses_external_lockin else ""))


class GridPoint(NamedTuple):
    """Where and how one spectrum of a step is taken, before it is numbered in the plan.

    ``temperature_K`` None: at whatever temperature the fridge is; ``position_m`` None:
    wherever the tip is.
    """

    temperature_K: float | None
    position_m: tuple[float, float] | None
    setpoint_A: float
    repeat: int


class _StepMixin:
    """Accessors every step has; overridden where the step does something.

    A spectrum step defines its spectra once, in :meth:`grid` (measurement order); the
    setpoint sequence and the spectrum count are read from it, so the limit check, the
    estimate and the procedures cannot disagree about what a step measures.
    """

    label: str | None

    def grid_points(self) -> list[GridPoint]:
        """Every spectrum of the step, in measurement order (none for a cooldown)."""
        return []

    def setpoint_sequence_A(self) -> np.ndarray:
        """Setpoint currents in the order they are visited, A (one per spectrum)."""
        return np.array([g.setpoint_A for g in self.grid_points()], dtype=float)

    def temperature_sequence_K(self) -> np.ndarray:
        """Temperatures regulated to, in order, K (empty: the fridge is left as it is)."""
        return np.zeros(0)

    def position_sequence_m(self) -> np.ndarray:
        """Tip positions (x, y) visited, m, shape (n, 2) (empty: stay where the tip is)."""
        return np.zeros((0, 2))

    def scan_extent_m(self) -> np.ndarray:
        """Every lab-frame point (x, y) the tip may be sent to, m, shape (n, 2): the positions,
        or for a grid the corners of its area (widened by the drift allowance) and of its drift
        reference patch. Checked against the piezo's scan range before anything moves."""
        return self.position_sequence_m()

    def overhead_s(self, ramp_A_per_s: float) -> float:
        """Station time the step spends outside its spectra (tip moves, drift references), s."""
        return 0.0

    @property
    def n_spectra(self) -> int:
        return len(self.grid_points())

    def describe(self) -> str:  # pragma: no cover - every step overrides
        raise NotImplementedError


def _temp_text(temps: np.ndarray) -> str:
    if len(temps) == 0:
        return ""
    if len(temps) == 1:
        return f" at {si(temps[0], 'K')}"
    return f" at {len(temps)} temperatures {si(temps[0], 'K')}..{si(temps[-1], 'K')}"


def _xy(position_m: Position | None) -> tuple[float, float] | None:
    """A plan position as the (x, y) of a point, m (None: wherever the tip is)."""
    return None if position_m is None else (float(position_m[0]), float(position_m[1]))


class _OptionalPlace(Strict):
    """Where and at which temperature a step runs, when it should change them first."""

    temperature_K: Temperature | None = None
    position_m: Position | None = None

    def temperature_sequence_K(self) -> np.ndarray:
        return np.zeros(0) if self.temperature_K is None else np.array([self.temperature_K])

    def position_sequence_m(self) -> np.ndarray:
        return np.zeros((0, 2)) if self.position_m is None else np.array([self.position_m])

    def _place(self) -> tuple[float | None, tuple[float, float] | None]:
        return self.temperature_K, _xy(self.position_m)


class SetpointSweepStep(_OptionalPlace, _StepMixin, SpectrumParams):
    """Spectra at setpoints from ``I_start_A`` to ``I_stop_A`` (tunnelling to contact, Fig. 1)."""

    union_tag: ClassVar[str | None] = "setpoint_sweep"
    kind: Literal["setpoint_sweep"]
    label: str | None = None
    I_start_A: Current
    I_stop_A: Current
    n_setpoints: int = Field(ge=1, le=10_000)
    spacing: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _one_point(self) -> SetpointSweepStep:
        if self.n_setpoints == 1 and self.I_start_A != self.I_stop_A:
            raise KeyedValueError([(("n_setpoints",), "n_setpoints = 1 needs I_start_A == "
                                                      "I_stop_A")])
        return self

    def grid_points(self) -> list[GridPoint]:
        make = np.geomspace if self.spacing == "log" else np.linspace
        T, xy = self._place()
        return [GridPoint(T, xy, float(I), 0)
                for I in make(self.I_start_A, self.I_stop_A, self.n_setpoints)]

    def describe(self) -> str:
        return (f"setpoint sweep{_temp_text(self.temperature_sequence_K())}: {self.n_setpoints} "
                f"setpoints {si(self.I_start_A, 'A')}..{si(self.I_stop_A, 'A')} ({self.spacing})"
                f" at V_sp {si(self.V_sp_V, 'V')}; {self._bias_text()}")


class TemperatureSweepStep(_StepMixin, SpectrumParams):
    """One spectrum per temperature at a fixed (contact) setpoint (Fig. 2)."""

    union_tag: ClassVar[str | None] = "temperature_sweep"
    kind: Literal["temperature_sweep"]
    label: str | None = None
    temperatures_K: ValuesOrSweep
    setpoint_A: Current
    position_m: Position | None = None

    @model_validator(mode="after")
    def _temps(self) -> TemperatureSweepStep:
        problems = _check_values(self.temperatures_K, 0, 300, "temperature (K)", "temperatures_K")
        if problems:
            raise KeyedValueError(problems)
        return self

    def temperature_sequence_K(self) -> np.ndarray:
        return values_of(self.temperatures_K)

    def position_sequence_m(self) -> np.ndarray:
        return np.zeros((0, 2)) if self.position_m is None else np.array([self.position_m])

    def grid_points(self) -> list[GridPoint]:
        xy = _xy(self.position_m)
        return [GridPoint(float(T), xy, self.setpoint_A, 0)
                for T in self.temperature_sequence_K()]

    def describe(self) -> str:
        return (f"temperature sweep{_temp_text(self.temperature_sequence_K())} at setpoint "
                f"{si(self.setpoint_A, 'A')}, V_sp {si(self.V_sp_V, 'V')}; {self._bias_text()}")


class OvernightGridStep(_StepMixin, SpectrumParams):
    """Every temperature x position x setpoint x repeat (loops nest in that order)."""

    union_tag: ClassVar[str | None] = "overnight_grid"
    kind: Literal["overnight_grid"]
    label: str | None = None
    temperatures_K: ValuesOrSweep
    setpoints_A: ValuesOrSweep
    repeats: int = Field(1, ge=1, le=10_000)
    positions_m: list[Position] = Field(min_length=1)

    @model_validator(mode="after")
    def _ranges(self) -> OvernightGridStep:
        problems = (_check_values(self.temperatures_K, 0, 300, "temperature (K)", "temperatures_K")
                    + _check_values(self.setpoints_A, 0, 1e-3, "setpoint (A)", "setpoints_A"))
        if problems:
            raise KeyedValueError(problems)
        return self

    def temperature_sequence_K(self) -> np.ndarray:
        return values_of(self.temperatures_K)

    def position_sequence_m(self) -> np.ndarray:
        return np.asarray(self.positions_m, dtype=float).reshape(-1, 2)

    def grid_points(self) -> list[GridPoint]:
        # Loops nest temperature > position > setpoint > repeat: one fridge temperature
        # change per temperature, one tip move per position.
        return [
            GridPoint(float(T), (float(x), float(y)), float(I), rep)
            for T in self.temperature_sequence_K()
            for x, y in self.position_sequence_m()
            for I in values_of(self.setpoints_A)
            for rep in range(self.repeats)
        ]

    @property
    def n_spectra(self) -> int:
        # Counted, not listed: a plan is sized (and refused if too big) before it is expanded.
        return (len(self.temperature_sequence_K()) * len(self.positions_m)
                * len(values_of(self.setpoints_A)) * self.repeats)

    def describe(self) -> str:
        s = values_of(self.setpoints_A)
        return (f"overnight grid{_temp_text(self.temperature_sequence_K())} x "
                f"{len(self.positions_m)} positions x {len(s)} setpoints "
                f"{si(s.min(), 'A')}..{si(s.max(), 'A')} x "
                f"{self.repeats} repeats; {self._bias_text()}")


class PositionGrid(Strict):
    """A raster of tip positions, m: x from x0 to x1 in nx points (inner loop), y outer."""

    x0: float = Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)
    x1: float = Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)
    nx: int = Field(ge=1, le=1000)
    y0: float = Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)
    y1: float = Field(ge=-MAX_POSITION_M, le=MAX_POSITION_M)
    ny: int = Field(ge=1, le=1000)

    def positions(self) -> np.ndarray:
        xs = np.linspace(self.x0, self.x1, self.nx)
        ys = np.linspace(self.y0, self.y1, self.ny)
        return np.array([(x, y) for y in ys for x in xs])


class PositionSurveyStep(_OptionalPlace, _StepMixin, SpectrumParams):
    """At each position: a tunnelling spectrum (E_g) then a contact spectrum (Delta_c), Fig. 3."""

    union_tag: ClassVar[str | None] = "position_survey"
    kind: Literal["position_survey"]
    label: str | None = None
    positions_m: list[Position] | None = Field(None, min_length=1)
    grid: PositionGrid | None = None
    low_setpoint_A: Current
    high_setpoint_A: Current

    @model_validator(mode="after")
    def _where(self) -> PositionSurveyStep:
        problems = []
        if (self.positions_m is None) == (self.grid is None):
            problems.append(((), "give either positions_m (a list of [x, y]) or grid "
                                 "{x0, x1, nx, y0, y1, ny}, not both and not neither"))
        if self.position_m is not None:
            problems.append((("position_m",), "a survey visits positions_m or grid; "
                                              "position_m does not apply"))
        if not self.low_setpoint_A < self.high_setpoint_A:
            problems.append((("high_setpoint_A",), (
                f"must be above low_setpoint_A ({self.low_setpoint_A:g} A); "
                f"got {self.high_setpoint_A:g}")))
        if problems:
            raise KeyedValueError(problems)
        return self

    def position_sequence_m(self) -> np.ndarray:
        if self.grid is not None:
            return self.grid.positions()
        return np.asarray(self.positions_m, dtype=float).reshape(-1, 2)

    def grid_points(self) -> list[GridPoint]:
        # A survey's positions replace position_m (refused above), so only T is the place.
        return [GridPoint(self.temperature_K, (float(x), float(y)), I, 0)
                for x, y in self.position_sequence_m()
                for I in (self.low_setpoint_A, self.high_setpoint_A)]

    def describe(self) -> str:
        return (f"position survey{_temp_text(self.temperature_sequence_K())}: "
                f"{len(self.position_sequence_m())} positions, each at "
                f"{si(self.low_setpoint_A, 'A')} (tunnelling) and "
                f"{si(self.high_setpoint_A, 'A')} (contact); "
                f"{self._bias_text()}")


class CooldownStep(_StepMixin, Strict):
    """Log temperatures (and film resistance, if a transport bridge is assigned) every
    ``interval_s`` until ``target_K`` is reached or ``max_duration_s`` has passed."""

    union_tag: ClassVar[str | None] = "cooldown"
    kind: Literal["cooldown"]
    label: str | None = None
    target_K: Temperature
    interval_s: PositiveFloat = Field(le=3600)
    max_duration_s: PositiveFloat = Field(le=30 * 86400)

    @model_validator(mode="after")
    def _duration(self) -> CooldownStep:
        if self.max_duration_s < self.interval_s:
            raise KeyedValueError([(("max_duration_s",), (
                f"must be at least interval_s ({self.interval_s} s); got {self.max_duration_s}"))])
        return self

    @property
    def n_readings(self) -> int:
        return int(self.max_duration_s // self.interval_s) + 1

    def describe(self) -> str:
        return (f"cooldown to {si(self.target_K, 'K')}: readings every "
                f"{duration_text(self.interval_s)}, for at most "
                f"{duration_text(self.max_duration_s)}")


class SingleSpectrumStep(_OptionalPlace, _StepMixin, SpectrumParams):
    """One spectrum at one setpoint."""

    union_tag: ClassVar[str | None] = "single_spectrum"
    kind: Literal["single_spectrum"]
    label: str | None = None
    setpoint_A: Current

    def grid_points(self) -> list[GridPoint]:
        T, xy = self._place()
        return [GridPoint(T, xy, self.setpoint_A, 0)]

    def describe(self) -> str:
        return (f"single spectrum{_temp_text(self.temperature_sequence_K())} at setpoint "
                f"{si(self.setpoint_A, 'A')}, V_sp {si(self.V_sp_V, 'V')}; {self._bias_text()}")


class GridStep(_StepMixin, SpectrumParams):
    """A spectrum at every pixel of an ``nx`` x ``ny`` raster (x inner, y outer): a map.

    The area is a rectangle ``size_m`` = (width, height) centred on ``centre_m`` and turned by
    ``rotation_deg`` (counter-clockwise) about it; pixels span it edge to edge. Between pixels
    the setpoint drops to ``move_setpoint_A`` with the z-controller on, the tip moves at
    ``move_speed_m_per_s``, waits ``move_settle_s`` and its height z is read (the topography
    of the pixel); then the setpoint goes to ``setpoint_A`` and the spectrum is taken as in
    every other step. ``drift_every`` > 0: every so many pixels a small topograph (a square
    patch of ``drift_patch_points`` x ``drift_patch_points`` z readings over ``drift_patch_m``)
    centred on the fixed point ``drift_reference_m`` is matched to the first one, and the
    measured lateral shift is added to every commanded position; a shift beyond
    ``drift_max_m`` pauses the run instead.
    Pixel (iy, ix) is point ``iy * nx + ix`` of the step.
    """

    union_tag: ClassVar[str | None] = "grid"
    kind: Literal["grid"]
    label: str | None = None
    temperature_K: Temperature | None = None
    centre_m: Position
    size_m: tuple[Annotated[float, Field(ge=0, le=2 * MAX_POSITION_M)],
                  Annotated[float, Field(ge=0, le=2 * MAX_POSITION_M)]]
    rotation_deg: float = Field(0.0, ge=-360, le=360)
    nx: int = Field(ge=1, le=MAX_GRID_PIXELS_PER_SIDE)
    ny: int = Field(ge=1, le=MAX_GRID_PIXELS_PER_SIDE)
    setpoint_A: Current
    move_setpoint_A: Current
    move_speed_m_per_s: PositiveFloat = Field(50e-9, le=1e-5)
    move_settle_s: NonNegativeFloat = Field(0.2, le=600)
    drift_every: int = Field(0, ge=0, le=1_000_000)
    drift_reference_m: Position | None = None
    drift_patch_m: PositiveFloat = Field(8e-9, le=1e-6)
    drift_patch_points: int = Field(9, ge=5, le=64)
    drift_max_m: PositiveFloat = Field(20e-9, le=1e-5)

    @model_validator(mode="after")
    def _grid(self) -> GridStep:
        problems = []
        if self.move_setpoint_A > self.setpoint_A:
            problems.append((("move_setpoint_A",), (
                f"must not exceed setpoint_A ({self.setpoint_A:g} A): the tip moves at the "
                f"lower, safer current; got {self.move_setpoint_A:g}")))
        for axis, n, size in ((0, self.nx, self.size_m[0]), (1, self.ny, self.size_m[1])):
            name = "nx" if axis == 0 else "ny"
            if n > 1 and size == 0:
                problems.append((("size_m", axis), f"is 0 with {name} = {n}: every pixel would "
                                                   "sit on the same spot"))
        if self.drift_every > 0 and self.drift_reference_m is None:
            problems.append((("drift_reference_m",), "is needed with drift_every > 0 (the "
                                                     "fixed point re-measured every "
                                                     f"{self.drift_every} pixels)"))
        if problems:
            raise KeyedValueError(problems)
        return self

    @property
    def n_spectra(self) -> int:
        # Counted, not listed: a grid is sized (and refused if too big) before it is expanded.
        return self.nx * self.ny

    def pixel_offsets_m(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y): pixel offsets from the centre along the grid's own axes, m ([nx], [ny])."""
        def axis(n: int, size: float) -> np.ndarray:
            return np.zeros(1) if n == 1 else np.linspace(-size / 2, size / 2, n)
        return axis(self.nx, self.size_m[0]), axis(self.ny, self.size_m[1])

    def to_lab_m(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid-frame offsets (u along the grid's x, v along its y) to lab-frame x, y, m."""
        a = math.radians(self.rotation_deg)
        c, s = math.cos(a), math.sin(a)
        x0, y0 = self.centre_m
        return x0 + c * u - s * v, y0 + s * u + c * v

    def pixel_positions_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Nominal lab-frame (x, y) of every pixel, m, each [ny, nx]."""
        u, v = self.pixel_offsets_m()
        uu, vv = np.meshgrid(u, v)
        return self.to_lab_m(uu, vv)

    def setpoint_sequence_A(self) -> np.ndarray:
        return np.full(self.n_spectra, float(self.setpoint_A))

    def temperature_sequence_K(self) -> np.ndarray:
        return np.zeros(0) if self.temperature_K is None else np.array([self.temperature_K])

    def position_sequence_m(self) -> np.ndarray:
        x, y = self.pixel_positions_m()
        return np.column_stack([x.ravel(), y.ravel()])

    def drift_patch_offsets_m(self) -> np.ndarray:
        """Positions along each axis of the drift reference patch, relative to its centre, m."""
        half = self.drift_patch_m / 2
        return np.linspace(-half, half, self.drift_patch_points)

    def scan_extent_m(self) -> np.ndarray:
        w, h = self.size_m
        # Drift correction may shift every commanded position by up to drift_max_m.
        margin = self.drift_max_m if self.drift_every > 0 else 0.0
        hw, hh = w / 2 + margin, h / 2 + margin
        u = np.array([-hw, hw, hw, -hw])
        v = np.array([-hh, -hh, hh, hh])
        x, y = self.to_lab_m(u, v)
        points = [np.column_stack([x, y])]
        if self.drift_every > 0 and self.drift_reference_m is not None:
            rx, ry = self.drift_reference_m
            reach = self.drift_patch_m / 2 + margin
            points.append(np.array([[rx - reach, ry - reach], [rx + reach, ry - reach],
                                    [rx + reach, ry + reach], [rx - reach, ry + reach]]))
        return np.concatenate(points)

    def n_drift_references(self) -> int:
        """How many drift re-references the grid takes (the first one included)."""
        if self.drift_every == 0:
            return 0
        return 1 + (self.n_spectra - 1) // self.drift_every

    def overhead_s(self, ramp_A_per_s: float) -> float:
        x, y = self.pixel_positions_m()
        xs, ys = x.ravel(), y.ravel()
        path = float(np.hypot(np.diff(xs), np.diff(ys)).sum())
        n = self.n_spectra
        # Down to the move setpoint and back up at every pixel; then move, settle, read z.
        ramps = 2 * n * abs(self.setpoint_A - self.move_setpoint_A) / ramp_A_per_s
        moves = path / self.move_speed_m_per_s + n * self.move_settle_s
        drift = 0.0
        if self.drift_every > 0:
            rx, ry = self.drift_reference_m
            # To the reference and back (from the grid's farthest corner at worst), one patch
            # (n rows of n points, back to the start of each row).
            reach = 2 * float(np.hypot(xs - rx, ys - ry).max())
            n = self.drift_patch_points
            patch = 3 * n * self.drift_patch_m / self.move_speed_m_per_s
            per_point = n * n * self.move_settle_s
            drift = self.n_drift_references() * (reach / self.move_speed_m_per_s + patch
                                                 + per_point)
        return ramps + moves + drift

    def grid_points(self) -> list[GridPoint]:
        x, y = self.pixel_positions_m()
        T = self.temperature_K
        return [GridPoint(T, (float(px), float(py)), float(self.setpoint_A), 0)
                for px, py in zip(x.ravel(), y.ravel(), strict=True)]

    def describe(self) -> str:
        drift = (f"drift re-reference every {self.drift_every} pixels at "
                 f"({si(self.drift_reference_m[0], 'm')}, {si(self.drift_reference_m[1], 'm')})"
                 if self.drift_every else "no drift correction")
        rot = f", rotated {self.rotation_deg:g} deg" if self.rotation_deg else ""
        return (f"grid{_temp_text(self.temperature_sequence_K())}: {self.nx} x {self.ny} pixels "
                f"over {si(self.size_m[0], 'm')} x {si(self.size_m[1], 'm')} centred at "
                f"({si(self.centre_m[0], 'm')}, {si(self.centre_m[1], 'm')}){rot}; spectra at "
                f"{si(self.setpoint_A, 'A')}, moves at {si(self.move_setpoint_A, 'A')}; {drift};"
                f" V_sp {si(self.V_sp_V, 'V')}; {self._bias_text()}")


StepConfig = Annotated[
    SetpointSweepStep | TemperatureSweepStep | OvernightGridStep | PositionSurveyStep
    | CooldownStep | SingleSpectrumStep | GridStep,
    Field(discriminator="kind"),
]


class PlanConfig(Strict):
    """A validated plan: a name, a description and the steps in order."""

    name: str = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_file_name_part(value)
    description: str = ""
    steps: list[StepConfig] = Field(min_length=1)

    # True when the file held one step at its top level (no `steps:`), so messages about
    # the plan use the file's own keys (``n_bias``) instead of ``steps.0.n_bias``.
    _single_step_file: bool = PrivateAttr(default=False)

    def step_key(self, index: int) -> str:
        """The key prefix of step ``index`` as written in the file (``steps.1.`` or ``""``)."""
        return "" if self._single_step_file else f"steps.{index}."

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _one_run(self) -> PlanConfig:
        """What makes a plan one run: cooldown steps first (they log before the run file
        exists, and the run's points are numbered once, up front), and one n_bias for every
        spectrum (the run file's rows have one width)."""
        problems = []
        seen_spectra = False
        for index, step in enumerate(self.steps):
            if isinstance(step, CooldownStep):
                if seen_spectra:
                    problems.append((("steps", index, "kind"), (
                        "cooldown comes after a spectrum step; put cooldown steps first (cool "
                        "down, then measure), or run them as a plan of their own")))
                    break
            else:
                seen_spectra = True
        grids = [i for i, step in enumerate(self.steps) if isinstance(step, GridStep)]
        if len(grids) > 1:
            problems.append((("steps", grids[1], "kind"), (
                "a plan holds at most one grid step (a run file has one /entry/grid): run "
                "each grid as a plan of its own")))
        widths = {step.n_bias for step in self.steps if isinstance(step, SpectrumParams)}
        if len(widths) > 1:
            first = next(s.n_bias for s in self.steps if isinstance(s, SpectrumParams))
            index = next(i for i, s in enumerate(self.steps)
                         if isinstance(s, SpectrumParams) and s.n_bias != first)
            problems.append((("steps", index, "n_bias"), (
                f"every spectrum of a run must have the same n_bias; the plan has "
                f"{sorted(widths)} (a run file's rows have one width: split the plan)")))
        if problems:
            raise KeyedValueError(problems)
        return self

    @property
    def n_spectra(self) -> int:
        return sum(step.n_spectra for step in self.steps)

    @property
    def n_points(self) -> int:
        """Bias points over the whole plan (spectra x n_bias)."""
        return sum(step.n_spectra * step.n_bias for step in self.steps
                   if isinstance(step, SpectrumParams))

    def snapshot(self) -> dict:
        """JSON-ready copy of the validated plan (for the run file)."""
        return self.model_dump(mode="json", by_alias=True)
