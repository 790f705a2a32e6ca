"""The station file schema: instruments, roles, simulation, limits, temperature control, output.

A station file describes one physical (or simulated) setup. :class:`StationConfig` is fully
validated before anything connects: addresses have the right form for their driver, every role
names an existing instrument of a suitable model, temperature bands use only allowed heater
ranges, faults target simulated instruments. ``stm_andreev.station`` builds the drivers from it.
Instrument entries live in ``instruments``, fault entries in ``faults``.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from stm_andreev.config.base import (
    NonNegativeFloat,
    Port,
    PositiveFloat,
    Strict,
    check_file_name_part,
    register_union_tags,
)
from stm_andreev.config.errors import KeyedValueError
from stm_andreev.config.faults import (  # noqa: F401 - re-exported for the station builder
    DelayFault,
    DropConnectionFault,
    ErrorStatusFault,
    FaultConfig,
    GarbleFault,
    LabFault,
    RestartFault,
    StallFault,
    TemperatureSpikeFault,
    TipChangeFault,
)
from stm_andreev.config.instruments import (  # noqa: F401 - re-exported
    DRIVER_KINDS,
    DRIVERS,
    NAME_RE,
    InstrumentConfig,
    LakeShore372Config,
    LakeShoreOptions,
    LockInOptions,
    NanonisConfig,
    NanonisOptions,
    SR570Config,
    SR570Options,
    SR830Config,
    SR860Config,
    VisaOptions,
)
from stm_andreev.config.sample import CustomSample, SamplePresetName

ROLES = ("lockin", "feedback", "temperature", "transport_bridge", "preamp")
# Which drivers can play each role (the driver interfaces in drivers/interfaces.py).
ROLE_DRIVERS: dict[str, tuple[str, ...]] = {
    role: tuple(name for name, kind in DRIVER_KINDS.items() if role in kind.roles)
    for role in ROLES
}
SamplePreset = SamplePresetName  # Table S1 of the paper
SAMPLE_PRESETS: tuple[str, ...] = typing.get_args(SamplePreset)

HeaterRange = Annotated[int, Field(ge=0, le=8)]  # Lake Shore 372 sample heater: 0 off .. 8
# A plain check (no email-validator dependency): one @, no spaces, a dot in the domain.
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Roles(Strict):
    """Which instrument plays each role the procedures need (instrument names)."""

    lockin: str
    feedback: str
    temperature: str
    transport_bridge: str | None = None
    preamp: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """(role, instrument name) for every role that is assigned."""
        return [(r, getattr(self, r)) for r in ROLES if getattr(self, r) is not None]


# ------------------------------------------------------------------------------- simulation

register_union_tags("preset")


def _sample_tag(value: Any) -> str:
    return "custom" if isinstance(value, (dict, CustomSample)) else "preset"


class SurfaceConfig(Strict):
    """The simulated sample's topography: a smooth seeded random surface (m)."""

    rms_m: NonNegativeFloat = Field(0.1e-9, le=10e-9)
    correlation_length_m: PositiveFloat = Field(3e-9, le=1e-6)


class DriftConfig(Strict):
    """The simulated lab's thermal drift of the sample under the piezo: a constant velocity
    (x, y, z in m per hour of station time) plus a slow seeded wander of amplitude
    ``wander_m`` and period ``wander_period_s`` on each axis."""

    velocity_m_per_h: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wander_m: NonNegativeFloat = Field(0.0, le=1e-6)
    wander_period_s: PositiveFloat = Field(3600.0, le=1e7)

    @field_validator("velocity_m_per_h")
    @classmethod
    def _speed(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(abs(v) > 1e-6 for v in value):
            raise ValueError(f"drift beyond 1 um per hour ({value}); values are in m/h")
        return value


class SimulationConfig(Strict):
    """The simulated lab: sample, tip, randomness, clock, transport and faults.

    ``transport: inprocess`` runs the emulators inside the run (virtual time, fastest);
    ``tcp`` makes the drivers connect to the instrument addresses, served by
    ``stm-andreev simulate`` reading the same station file. ``modulation_divider`` is the
    voltage divider between the lock-in sine output and the junction (junction modulation
    = sine output / divider).
    """

    sample: Annotated[
        Annotated[SamplePreset, Tag("preset")]
        | Annotated[CustomSample, Tag("custom")],
        Discriminator(_sample_tag),
    ] = "InO-2"
    tip_xy_m: tuple[float, float] = (0.0, 0.0)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    clock: Literal["virtual", "scaled"] = "virtual"
    speedup: PositiveFloat = Field(1.0, le=1e6)
    transport: Literal["inprocess", "tcp"] = "inprocess"
    modulation_divider: float = Field(1000.0, ge=1, le=1e6)
    faults: list[FaultConfig] = Field(default_factory=list)
    # None: a flat sample that does not drift (every dry run before maps)
    surface: SurfaceConfig | None = None
    drift: DriftConfig | None = None

    @field_validator("tip_xy_m")
    @classmethod
    def _tip(cls, value: tuple[float, float]) -> tuple[float, float]:
        if any(abs(v) > 1e-4 for v in value):
            raise ValueError(f"tip position beyond 100 um ({value}); coordinates are in metres")
        return value

    @property
    def sample_name(self) -> str:
        return self.sample if isinstance(self.sample, str) else self.sample.name


# -------------------------------------------------------------------------------- limits

class Limits(Strict):
    """Safety limits the engine enforces on every plan before anything moves.

    Biases and modulation are at the junction. ``z_limits_m`` = [low, high] tip height.
    """

    max_bias_V: PositiveFloat = Field(le=10)
    max_setpoint_A: PositiveFloat = Field(le=1e-3)
    allowed_heater_ranges: list[HeaterRange] = Field(min_length=1)
    temperature_ceiling_K: PositiveFloat = Field(le=300)
    z_limits_m: tuple[float, float]
    setpoint_ramp_A_per_s: PositiveFloat
    max_modulation_Vrms: PositiveFloat = Field(le=5)
    # Bounds on one plan, so a typo (a 10^7-spectrum grid, a 1e-300 A/s ramp) is refused up
    # front instead of running for years or exhausting memory.
    max_plan_spectra: int = Field(100_000, ge=1, le=10_000_000)
    max_plan_duration_days: PositiveFloat = Field(60.0, le=3650)
    # The piezo's lateral scan range, lab frame: [[x_min, x_max], [y_min, y_max]] in m. Every
    # position a plan sends the tip to must lie inside; a grid plan needs it.
    scan_range_m: tuple[tuple[float, float], tuple[float, float]] | None = None

    @field_validator("scan_range_m")
    @classmethod
    def _scan(cls, value):
        if value is None:
            return value
        for axis, (low, high) in zip("xy", value, strict=True):
            if not low < high:
                raise ValueError(f"{axis}: expected [min, max] with min < max; got [{low}, {high}]")
            if max(abs(low), abs(high)) > 1e-4:
                raise ValueError(f"{axis} range beyond 100 um ([{low}, {high}]); values are in "
                                 "metres")
        return value

    @field_validator("allowed_heater_ranges")
    @classmethod
    def _ranges(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"heater ranges listed twice: {value}")
        return sorted(value)

    @field_validator("z_limits_m")
    @classmethod
    def _z(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not low < high:
            raise ValueError(f"expected [low, high] with low < high; got [{low}, {high}]")
        if max(abs(low), abs(high)) > 1e-3:
            raise ValueError(f"z limits beyond 1 mm ({value}); values are in metres")
        return value


# ---------------------------------------------------------------------- temperature control

class TemperatureBand(Strict):
    """Below ``up_to_K`` the loop uses this heater range and PID (P, I in s, D in s)."""

    up_to_K: PositiveFloat = Field(le=300)
    heater_range: HeaterRange
    pid: tuple[float, float, float]

    @field_validator("pid")
    @classmethod
    def _pid(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        p, i, d = value
        # Lake Shore 372 ranges: P 0.0-1000, I 0-10000 s, D 0-2500 s
        if not (0 < p <= 1000 and 0 <= i <= 10000 and 0 <= d <= 2500):
            raise ValueError(f"expected [P, I, D] with 0 < P <= 1000, 0 <= I <= 10000, "
                             f"0 <= D <= 2500; got {list(value)}")
        return value


class SettleConfig(Strict):
    """Temperature counts as reached after ``dwell_s`` within ``tolerance_K``; gives up at
    ``timeout_s``."""

    tolerance_K: PositiveFloat = Field(le=10)
    dwell_s: NonNegativeFloat
    timeout_s: PositiveFloat

    @model_validator(mode="after")
    def _timeout(self) -> SettleConfig:
        if self.timeout_s <= self.dwell_s:
            raise KeyedValueError([(("timeout_s",), (
                f"must be longer than dwell_s ({self.dwell_s} s); got {self.timeout_s}"))])
        return self


class NoTemperatureBandError(ValueError):
    """A temperature lies above every band of the temperature-control table."""


class TemperatureControl(Strict):
    """Heater range and PID by temperature band (sorted ascending), and the safe state."""

    bands: list[TemperatureBand] = Field(min_length=1)
    safe_heater_range: HeaterRange = 0
    settle: SettleConfig

    @field_validator("bands")
    @classmethod
    def _sorted(cls, value: list[TemperatureBand]) -> list[TemperatureBand]:
        problems = [((i, "up_to_K"), f"bands must be sorted by up_to_K, ascending; "
                                     f"{b.up_to_K} K follows {a.up_to_K} K")
                    for i, (a, b) in enumerate(zip(value, value[1:], strict=False), start=1)
                    if not b.up_to_K > a.up_to_K]
        if problems:
            raise KeyedValueError(problems)
        return value

    def band_for(self, T_K: float) -> TemperatureBand:
        """The band regulating at ``T_K``; raise :class:`NoTemperatureBandError` above all."""
        for band in self.bands:
            if T_K <= band.up_to_K:
                return band
        raise NoTemperatureBandError(
            f"{T_K} K is above the last temperature_control band ({self.bands[-1].up_to_K} K)")

    @property
    def max_K(self) -> float:
        return self.bands[-1].up_to_K


# ------------------------------------------------------------------ preamp, notifications

class PreampConfig(Strict):
    """Current preamplifier gains available (V/A) and the one used by default."""

    gains_V_per_A: list[PositiveFloat] = Field(min_length=1)
    gain_V_per_A: PositiveFloat | None = None

    @model_validator(mode="after")
    def _default_listed(self) -> PreampConfig:
        if self.gain_V_per_A is not None and self.gain_V_per_A not in self.gains_V_per_A:
            raise KeyedValueError([(("gain_V_per_A",), (
                f"{self.gain_V_per_A:g} is not among gains_V_per_A "
                f"[{', '.join(f'{g:g}' for g in self.gains_V_per_A)}]"))])
        return self


class SmtpConfig(Strict):
    """Mail server for run notifications. The password is read from the environment variable
    named by ``password_env`` (never stored in the file)."""

    host: str = Field(min_length=1)
    port: Port = 587
    from_: Email = Field(alias="from")
    to: list[Email] = Field(min_length=1)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class WebhookConfig(Strict):
    """An HTTP(S) endpoint receiving a JSON message at run end or on an interlock."""

    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")


class Notifications(Strict):
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None


# -------------------------------------------------------------------------------- station

class StationConfig(Strict):
    """A whole station file, validated (see module docstring)."""

    name: str = Field(min_length=1)
    instruments: dict[str, InstrumentConfig] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_file_name_part(value)
    roles: Roles
    simulation: SimulationConfig | None = None
    limits: Limits
    temperature_control: TemperatureControl
    preamp: PreampConfig | None = None
    notifications: Notifications | None = None
    output_dir: Path = Path("runs")

    @field_validator("instruments")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [((name,), "instrument names are letters, digits, _ and - (starting with a "
                         "letter)") for name in value if not NAME_RE.match(name)]
        if bad:
            raise KeyedValueError(bad)
        return value

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, value: Path) -> Path:
        if str(value).strip() in ("", "."):
            raise ValueError("give a directory for the run files, e.g. runs or ~/stm-data")
        return value.expanduser()

    @model_validator(mode="after")
    def _cross_checks(self) -> StationConfig:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = ", ".join(self.instruments)
        for role, inst_name in self.roles.items():
            inst = self.instruments.get(inst_name)
            if inst is None:
                problems.append((("roles", role), f"names instrument {inst_name!r}, which is not "
                                                  f"in instruments ({names})"))
            elif inst.driver not in ROLE_DRIVERS[role]:
                problems.append((("roles", role), (
                    f"instrument {inst_name!r} is a {inst.driver}; the {role} role needs "
                    f"one of {', '.join(ROLE_DRIVERS[role])}")))
        sim = self.simulation
        for name, inst in self.instruments.items():
            if inst.simulated and sim is None:
                problems.append((("instruments", name, "simulated"),
                                 "a simulated instrument needs a simulation: section"))
            elif inst.address is None and not (inst.simulated and sim.transport == "inprocess"):
                why = "simulation.transport is tcp" if inst.simulated else "it is real"
                problems.append((("instruments", name, "address"),
                                 f"missing (required because {why})"))
        real = [name for name, inst in self.instruments.items() if not inst.simulated]
        if sim is not None and real and len(real) < len(self.instruments):
            # Mixed real and simulated: every wait reaches real hardware, so time must be real.
            if sim.clock == "virtual":
                problems.append((("simulation", "clock"), (
                    f"a virtual clock skips waits, but {', '.join(real)} is real; use "
                    "clock: scaled with speedup: 1, or simulate every instrument")))
            elif sim.speedup != 1:
                problems.append((("simulation", "speedup"), (
                    f"must be 1 while {', '.join(real)} is real (waits on real hardware "
                    f"cannot run {sim.speedup:g} times faster)")))
        if sim is not None:
            for i, fault in enumerate(sim.faults):
                if isinstance(fault, LabFault):
                    continue
                inst = self.instruments.get(fault.instrument)
                if inst is None:
                    problems.append((("simulation", "faults", i, "instrument"), (
                        f"{fault.instrument!r} is not in instruments ({names})")))
                elif not inst.simulated:
                    problems.append((("simulation", "faults", i, "instrument"), (
                        f"{fault.instrument!r} is a real instrument; faults are injected "
                        "into simulated ones only")))
        allowed = set(self.limits.allowed_heater_ranges)
        tc = self.temperature_control
        for i, band in enumerate(tc.bands):
            if band.heater_range not in allowed:
                problems.append((("temperature_control", "bands", i, "heater_range"), (
                    f"range {band.heater_range} is not in limits.allowed_heater_ranges "
                    f"{sorted(allowed)}")))
            if band.up_to_K > self.limits.temperature_ceiling_K and i > 0 and (
                    tc.bands[i - 1].up_to_K >= self.limits.temperature_ceiling_K):
                problems.append((("temperature_control", "bands", i, "up_to_K"), (
                    f"band lies wholly above limits.temperature_ceiling_K "
                    f"({self.limits.temperature_ceiling_K} K)")))
        if tc.safe_heater_range not in allowed:
            problems.append((("temperature_control", "safe_heater_range"), (
                f"range {tc.safe_heater_range} is not in limits.allowed_heater_ranges "
                f"{sorted(allowed)}")))
        if problems:
            raise KeyedValueError(problems)
        return self

    # -- conveniences for the station builder and the summary

    def instrument_for(self, role: str) -> tuple[str, Any]:
        """(name, instrument config) playing ``role``; KeyError if the role is unassigned."""
        name = getattr(self.roles, role, None)
        if name is None:
            raise KeyError(f"role {role!r} is not assigned in station {self.name!r}")
        return name, self.instruments[name]

    @property
    def clock_kind(self) -> Literal["wall", "virtual", "scaled"]:
        """The clock a run uses: wall for real hardware, else the simulation's."""
        if self.simulation is None or not any(i.simulated for i in self.instruments.values()):
            return "wall"
        return self.simulation.clock

    @property
    def fully_simulated(self) -> bool:
        return all(i.simulated for i in self.instruments.values())

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy of the validated configuration (for the run file)."""
        return self.model_dump(mode="json", by_alias=True)
