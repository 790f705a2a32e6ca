"""Building blocks shared by the station and plan schemas: a strict base model, sweeps, SI text."""

from __future__ import annotations

import math
import typing
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from stm_andreev.config.errors import UNION_TAGS, KeyedValueError, accepts_bool, union_members


def _misplaced_bools(annotation: Any, value: Any) -> list[tuple[tuple[int, ...], bool]]:
    """Booleans in ``value`` where ``annotation`` wants numbers (the value or list items)."""
    if isinstance(value, bool):
        return [] if accepts_bool(annotation) else [((), value)]
    if isinstance(value, list):
        items = [a for arg in union_members(annotation)
                 if typing.get_origin(arg) in (list, tuple)
                 for a in typing.get_args(arg) if a is not Ellipsis]
        if items and not any(accepts_bool(a) for a in items):
            return [((i,), v) for i, v in enumerate(value) if isinstance(v, bool)]
    return []


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are frozen.

    Frozen because the engine and the HDF5 snapshot must see exactly what was validated; use
    ``model_copy(update=...)`` (then re-validate) to derive a variant.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # Where a top-level model was read from (set by the loaders; not part of the data).
    _source_file: str | None = PrivateAttr(default=None)
    _source_text: str | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Equal when the data is: where a file was read from does not matter.
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # holds lists and dicts: not hashable

    @property
    def source_file(self) -> str | None:
        """The file this was loaded from (None when built in memory)."""
        return self._source_file

    @property
    def source_text(self) -> str | None:
        """The file's text as written, comments included (for the run file's provenance)."""
        return self._source_text

    # Set on models that are members of a tagged union, so error locations can be cleaned.
    union_tag: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data: Any) -> Any:
        # YAML reads yes/no/on/off as booleans, and pydantic would quietly take them as 1/0:
        # `heater_range: on` must not become range 1.
        if isinstance(data, dict):
            problems = []
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if field is None:
                    continue
                problems += [((key, *sub), f"expected a number or text; got "
                                           f"{str(flag).lower()} (YAML reads yes/no/on/off "
                                           "as true/false)")
                             for sub, flag in _misplaced_bools(field.annotation, value)]
            if problems:
                raise KeyedValueError(problems)
        return data

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("union_tag"):
            UNION_TAGS.add(cls.__dict__["union_tag"])


def register_union_tags(*tags: str) -> None:
    """Declare discriminator tags of unions whose members are not models (e.g. ``list``)."""
    UNION_TAGS.update(tags)


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Sweep(Strict):
    """Evenly spaced values from ``start`` to ``stop`` inclusive (``n`` of them).

    ``spacing: log`` spaces them geometrically (both ends must then have the same sign and be
    non-zero), as for setpoint currents spanning decades.
    """

    union_tag: ClassVar[str | None] = "sweep"

    start: float
    stop: float
    n: int = Field(ge=1, le=100_000)
    spacing: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _check(self) -> Sweep:
        if self.spacing == "log" and (self.start * self.stop <= 0):
            raise ValueError("log spacing needs start and stop non-zero and of the same sign; "
                             f"got start={self.start}, stop={self.stop}")
        if self.n == 1 and self.start != self.stop:
            raise ValueError("n = 1 needs start == stop (one value)")
        return self

    def values(self) -> np.ndarray:
        if self.spacing == "log":
            return np.geomspace(self.start, self.stop, self.n)
        return np.linspace(self.start, self.stop, self.n)


register_union_tags("list")


def sweep_or_list_tag(value: Any) -> str:
    """Discriminator for "a list of values or a start/stop/n sweep" fields."""
    return "sweep" if isinstance(value, dict) or isinstance(value, Sweep) else "list"


_PREFIXES = [(1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, ""), (1e3, "k"),
             (1e6, "M"), (1e9, "G"), (1e12, "T")]


def si(value: float, unit: str, digits: int = 3) -> str:
    """Format ``value`` with an SI prefix: ``si(1e-9, "A") == "1 nA"``, ``si(0.065, "K")``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    magnitude = abs(value)
    scale, prefix = _PREFIXES[0]
    for s, p in _PREFIXES:
        if magnitude >= s * 0.9995:
            scale, prefix = s, p
    return f"{value / scale:.{digits}g} {prefix}{unit}"


def duration_text(seconds: float) -> str:
    """Format a duration for people: ``"2 h 05 min"``, ``"4 min 10 s"``, ``"12 s"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


#: Longest station or plan name: it becomes part of run-file names (a file name is <= 255 bytes).
MAX_NAME_CHARS = 100


def check_file_name_part(value: str) -> str:
    """A station or plan name, which becomes part of a run file's name: no path separators,
    no control characters (NUL...), not hidden, at most MAX_NAME_CHARS characters."""
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{len(value)} characters; at most {MAX_NAME_CHARS} (it becomes part "
                         "of the run file's name)")
    bad = sorted({c for c in value if c in "/\\" or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ValueError(f"contains {shown}; a name becomes part of a file name (no path "
                         "separators or control characters)")
    if value.startswith(".") or not value.strip():
        raise ValueError("must not start with '.' or be blank (it becomes part of a file name)")
    return value
