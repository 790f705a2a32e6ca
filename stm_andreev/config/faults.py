"""Fault injection entries of a station file (``simulation.faults``), tagged by ``kind``.

These models are the one fault schema: the station file validates them at load time (a bad
fault fails before the run with its key named) and the simulator
(``stm_andreev.simulators.faults``) executes the same objects. Wire faults hit one simulated instrument's traffic; lab faults
(``temperature_spike``, ``tip_change``) change the simulated world once.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from stm_andreev.config.base import NonNegativeFloat, PositiveFloat, Strict

LAB_INSTRUMENT = "lab"  # what a lab fault's ``instrument`` is (it hits no one instrument)


class _Described:
    """A fault's one-line description for people."""

    kind: str
    instrument: str | None
    after_commands: int | None
    at_time_s: float | None

    def summary(self) -> str:
        """What, where, when, e.g. ``garble lockin p=0.01``."""
        parts = [self.kind, self.instrument or LAB_INSTRUMENT]
        if self.after_commands is not None:
            parts.append(f"after {self.after_commands} commands")
        if self.at_time_s is not None:
            parts.append(f"at t={self.at_time_s:g} s")
        probability = getattr(self, "probability", None)
        if probability is not None:
            parts.append(f"p={probability:g}")
        count = getattr(self, "count", 1)
        extras = {"count": count if count != 1 else None}
        extras.update({key: getattr(self, key, None)
                       for key in ("delay_s", "bits", "delta_K", "duration_s")})
        parts += [f"{key}={value:g}" for key, value in extras.items() if value is not None]
        return " ".join(parts)


class _FaultBase(_Described, Strict):
    """Fault on one simulated instrument's traffic (applied by simulators/faults.py).

    Triggers: after ``after_commands`` commands to ``instrument``, or at ``at_time_s`` of
    station time, and/or with ``probability`` per command. Once due it hits ``count``
    consecutive commands, or every command for ``duration_s`` of station time if given.
    """

    is_lab_fault: ClassVar[bool] = False

    instrument: str
    after_commands: int | None = Field(None, ge=0)
    at_time_s: NonNegativeFloat | None = None
    probability: float | None = Field(None, gt=0, le=1)
    count: int = Field(1, ge=1, le=1_000_000)
    duration_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _trigger(self) -> _FaultBase:
        if self.after_commands is not None and self.at_time_s is not None:
            raise ValueError("give after_commands or at_time_s, not both")
        if (self.after_commands, self.at_time_s, self.probability) == (None, None, None):
            raise ValueError("needs a trigger: after_commands, at_time_s or probability")
        return self


class DropConnectionFault(_FaultBase):
    union_tag: ClassVar[str | None] = "drop_connection"
    kind: Literal["drop_connection"]


class DelayFault(_FaultBase):
    union_tag: ClassVar[str | None] = "delay"
    kind: Literal["delay"]
    delay_s: PositiveFloat = Field(le=3600)


class StallFault(_FaultBase):
    union_tag: ClassVar[str | None] = "stall"
    kind: Literal["stall"]


class GarbleFault(_FaultBase):
    union_tag: ClassVar[str | None] = "garble"
    kind: Literal["garble"]


class ErrorStatusFault(_FaultBase):
    union_tag: ClassVar[str | None] = "error_status"
    kind: Literal["error_status"]
    bits: int | None = Field(None, ge=1, le=0xFFFF, description="status bits to set "
                             "(default: the queried register's overload/error bit)")


class RestartFault(_FaultBase):
    union_tag: ClassVar[str | None] = "restart"
    kind: Literal["restart"]


class LabFault(_Described, Strict):
    """A fault of the simulated world itself; fires once, after ``after_commands`` commands
    to any instrument or at ``at_time_s`` of station time."""

    is_lab_fault: ClassVar[bool] = True
    # What the fault injector's triggers read: a lab fault fires once, never by chance.
    count: ClassVar[int] = 1
    probability: ClassVar[None] = None

    instrument: Literal["lab"] | None = None
    after_commands: int | None = Field(None, ge=0)
    at_time_s: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _trigger(self) -> LabFault:
        if (self.after_commands is None) == (self.at_time_s is None):
            raise ValueError("needs exactly one trigger: after_commands or at_time_s")
        return self


class TemperatureSpikeFault(LabFault):
    """The fridge warms by ``delta_K`` (cools if negative) and recovers over ``duration_s``."""

    union_tag: ClassVar[str | None] = "temperature_spike"
    kind: Literal["temperature_spike"]
    delta_K: float = Field(gt=-10, lt=10)
    duration_s: PositiveFloat

    @field_validator("delta_K")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("a spike of 0 K does nothing; give a non-zero delta_K")
        return value


class TipChangeFault(LabFault):
    """The tip apex changes (new gap and height at the same position)."""

    union_tag: ClassVar[str | None] = "tip_change"
    kind: Literal["tip_change"]


FaultConfig = Annotated[
    DropConnectionFault | DelayFault | StallFault | GarbleFault | ErrorStatusFault
    | RestartFault | TemperatureSpikeFault | TipChangeFault,
    Field(discriminator="kind"),
]
