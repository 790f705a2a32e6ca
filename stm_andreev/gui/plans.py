"""Plans as the run-control form edits them: plan file <-> pymeasure Procedures <-> plan YAML.

Each spectrum step of a plan becomes its pymeasure Procedure
(``stm_andreev.procedures.PROCEDURES[kind].from_step(step)``); the form edits the Procedure's
Parameters; :func:`plan_text_from_procedures` writes the edited values back into the plan's
steps and validates the result with the same loader ``stm-andreev run`` uses, so a plan the
form accepts is a plan the engine accepts. Steps without a Procedure (``cooldown``) pass
through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stm_andreev.config import PlanConfig, config_dir, load_plan, load_plan_text
from stm_andreev.procedures import PROCEDURES

#: Procedure parameter -> how it maps back to a plan-step key, where the names differ.
_SPECIAL = {"log_spacing", "temperature_K", "temperatures_K", "label"}


@dataclass
class EditableStep:
    """One plan step with its Procedure (None for steps the form cannot edit)."""

    index: int
    kind: str
    step: Any
    procedure: Any | None


def plan_names(directory: Path | None = None) -> list[str]:
    """Plan names in ``configs/plans`` (or ``directory``), sorted."""
    folder = directory or (config_dir() / "plans")
    return sorted(p.stem for p in folder.glob("*.yaml"))


def editable_steps(plan: PlanConfig) -> list[EditableStep]:
    """The plan's steps, each with a Procedure whose Parameters hold the step's values."""
    out = []
    for i, step in enumerate(plan.steps):
        cls = PROCEDURES.get(step.kind)
        out.append(EditableStep(i, step.kind, step, cls.from_step(step) if cls else None))
    return out


def load_editable(name_or_path: str) -> tuple[PlanConfig, list[EditableStep]]:
    plan = load_plan(name_or_path)
    return plan, editable_steps(plan)


ZERO_MEANS_UNSET = ("temperature_K", "lockin_time_constant_s")


def _step_dict(step: Any, procedure: Any | None) -> dict[str, Any]:
    dumped = step.model_dump(mode="json", exclude_none=True)
    # kind and label first: the saved plan reads like the shipped ones.
    data = {k: dumped.pop(k) for k in ("kind", "label") if k in dumped}
    data.update(dumped)
    if procedure is None:
        return data
    fields = type(step).model_fields
    for name in procedure.parameter_objects():
        value = getattr(procedure, name)
        if name == "log_spacing" and "spacing" in fields:
            data["spacing"] = "log" if value else "linear"
        elif name in ZERO_MEANS_UNSET and name in fields:
            # The form's 0 is the plan's missing key: leave the fridge as it is (temperature),
            # choose the lock-in filter per setpoint decade (time constant).
            if value:
                data[name] = float(value)
            else:
                data.pop(name, None)
        elif name == "temperatures_K" and "temperatures_K" in fields:
            data["temperatures_K"] = _float_list(value)
        elif name == "label":
            if value and value != step.kind:
                data["label"] = str(value)
        elif name in fields:
            data[name] = value.item() if hasattr(value, "item") else value
    return data


def _float_list(text: Any) -> list[float]:
    try:
        return [float(t) for t in str(text).replace(";", ",").split(",") if t.strip()]
    except ValueError as exc:
        raise ValueError(f"temperatures must be numbers separated by commas: {exc}") from None


def plan_text_from_procedures(plan: PlanConfig, steps: list[EditableStep]) -> str:
    """YAML of ``plan`` with every step's values taken from its (edited) Procedure.

    Raises :class:`stm_andreev.config.ConfigError` (naming the key) if the edited plan is
    invalid, or ValueError for a field the form could not parse.
    """
    data = {
        "name": plan.name,
        "description": plan.description,
        "steps": [_step_dict(s.step, s.procedure) for s in steps],
    }
    text = yaml.safe_dump(data, sort_keys=False)
    load_plan_text(text, f"{plan.name} (edited)")  # validates; raises ConfigError
    return text
