"""Plans as the run-control form edits them: plan file <-> step forms <-> plan YAML.

Each spectrum step is edited through a form generated from its own schema
(:class:`~stm_andreev.gui.plan_form.StepForm`); :func:`plan_text_from_steps` writes the
edited keys back into a plan and validates it with the loader ``stm-andreev run`` uses, so a
plan the form accepts is a plan the engine accepts. Steps without spectra (``cooldown``) pass
through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stm_andreev.config import PlanConfig, config_dir, load_plan, load_plan_text
from stm_andreev.config.plan import SpectrumParams


@dataclass
class EditableStep:
    """One plan step and, once a form has been applied, its edited keys."""

    index: int
    kind: str
    step: Any
    edited: dict[str, Any] | None = None

    @property
    def editable(self) -> bool:
        return isinstance(self.step, SpectrumParams)

    def data(self) -> dict[str, Any]:
        """The step as plan-file keys (kind and label first, as the shipped plans read)."""
        dumped = (self.edited if self.edited is not None
                  else self.step.model_dump(mode="json", exclude_none=True))
        data = {k: dumped[k] for k in ("kind", "label") if k in dumped}
        data.update({k: v for k, v in dumped.items() if k not in data})
        return data


def plan_names(directory: Path | None = None) -> list[str]:
    """Plan names in ``configs/plans`` (or ``directory``), sorted."""
    folder = directory or (config_dir() / "plans")
    return sorted(p.stem for p in folder.glob("*.yaml"))


def editable_steps(plan: PlanConfig) -> list[EditableStep]:
    return [EditableStep(i, step.kind, step) for i, step in enumerate(plan.steps)]


def load_editable(name_or_path: str) -> tuple[PlanConfig, list[EditableStep]]:
    plan = load_plan(name_or_path)
    return plan, editable_steps(plan)


def plan_text_from_steps(plan: PlanConfig, steps: list[EditableStep]) -> str:
    """YAML of ``plan`` with every step's edited keys.

    Raises :class:`stm_andreev.config.ConfigError` (naming the key) if the edited plan is
    invalid.
    """
    data = {"name": plan.name, "description": plan.description,
            "steps": [s.data() for s in steps]}
    text = yaml.safe_dump(data, sort_keys=False)
    load_plan_text(text, f"{plan.name} (edited)")  # validates; raises ConfigError
    return text
