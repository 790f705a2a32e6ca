"""Fault injection entries of a station file (``simulation.faults``), tagged by ``kind``.

The simulator executes them (``stm_andreev.simulators.faults``, which accepts these objects);
here they are validated at load time with the same fields, so a bad fault fails before the run
with its key named. Wire faults hit one simulated instrument's traffic; lab faults
(``temperature_spike``, ``tip_change``) change the simulated world once.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from stm_andreev.config_base import NonNegativeFloat, PositiveFloat, Strict


class _FaultBase(Strict):
    """Fault on one simulated instrument's traffic (applied by simulators/faults.py).

    Triggers: after ``after_commands`` commands to ``instrument``, or at ``at_time_s`` of
    station time, and/or with ``probability`` per command. Once due it hits ``count``
    consecutive commands, or every command for ``duration_s`` of station time if given.
    """

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


class LabFault(Strict):
    """A fault of the simulated world itself; fires once, after ``after_commands`` commands
    to any instrument or at ``at_time_s`` of station time."""

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
