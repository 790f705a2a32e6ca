"""Station and plan configuration: load, validate, cross-check. The one import others need.

    from stm_andreev.config import load_station, load_plan

    station = load_station("configs/simulated.yaml")     # or load_station("simulated")
    plan = load_plan("paper-inO2")                      # looks in configs/plans/

(A plan against a station's limits, and its time estimate, are the procedures' to judge:
:mod:`stm_andreev.procedures.checks`.)

Everything is validated before any instrument connects. Any problem, from a missing file to a
role naming an instrument that does not exist, raises one :class:`ConfigError` whose message
names the file, the key path (``instruments.lockin.address``), the line and what was expected.
The schemas live in ``station`` and ``plan`` (and the modules they import); the YAML reader in ``yaml_file``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from stm_andreev.config.base import Sweep, duration_text, si
from stm_andreev.config.errors import (
    ConfigError,
    ConfigFileError,
    ConfigKindError,
    ConfigProblem,
    ConfigSyntaxError,
    ConfigValidationError,
    DuplicateKeyError,
    KeyPath,
    PlanLimitError,
    UnsafeTagError,
    line_for,
    problems_from_validation_error,
)
from stm_andreev.config.plan import (
    STEP_KINDS,
    CooldownStep,
    OvernightGridStep,
    PlanConfig,
    PositionGrid,
    PositionSurveyStep,
    SetpointSweepStep,
    SingleSpectrumStep,
    SpectrumParams,
    StepConfig,
    TemperatureSweepStep,
)
from stm_andreev.config.station import (
    DRIVERS,
    ROLE_DRIVERS,
    ROLES,
    InstrumentConfig,
    LakeShore372Config,
    Limits,
    NanonisConfig,
    NoTemperatureBandError,
    SimulationConfig,
    SR570Config,
    SR830Config,
    SR860Config,
    StationConfig,
    TemperatureBand,
    TemperatureControl,
)
from stm_andreev.config.yaml_file import StrictSafeLoader, YamlDocument, parse_yaml, read_yaml

__all__ = [
    "CONFIG_DIR_ENV", "DRIVERS", "ROLES", "ROLE_DRIVERS", "STEP_KINDS",
    "ConfigError", "ConfigFileError", "ConfigKindError", "ConfigProblem", "ConfigSyntaxError",
    "ConfigValidationError",
    "CooldownStep", "DuplicateKeyError", "InstrumentConfig", "LakeShore372Config", "Limits",
    "NanonisConfig", "NoTemperatureBandError", "OvernightGridStep", "PlanConfig",
    "PlanLimitError", "PositionGrid", "PositionSurveyStep", "SR570Config",
    "SR830Config", "SR860Config", "SetpointSweepStep", "SimulationConfig",
    "SingleSpectrumStep", "SpectrumParams", "StationConfig", "StepConfig",
    "StrictSafeLoader", "Sweep", "TemperatureBand", "TemperatureControl",
    "TemperatureSweepStep", "UnsafeTagError", "config_dir",
    "duration_text", "load_plan", "load_plan_text", "load_station", "plan_from_dict",
    "resolve_config_path", "si", "station_from_dict",
]

CONFIG_DIR_ENV = "STM_ANDREEV_CONFIG_DIR"


def config_dir() -> Path:
    """The folder holding station files and ``plans/``.

    ``$STM_ANDREEV_CONFIG_DIR`` if set, else the repository's ``configs/`` next to the package
    (editable installs and source checkouts), else ``./configs``.
    """
    env = os.environ.get(CONFIG_DIR_ENV)
    if env:
        return Path(env)
    beside_package = Path(__file__).resolve().parents[2] / "configs"
    if beside_package.is_dir():
        return beside_package
    # A wheel install has no configs/ beside the package: use the working directory's.
    return Path.cwd() / "configs"


def resolve_config_path(name_or_path: str | os.PathLike[str], subdir: str = "") -> Path:
    """A path as given if it names a file (or has a folder or a .yaml suffix), else
    ``config_dir()/subdir/<name>.yaml``: ``"paper-inO2"`` -> ``configs/plans/paper-inO2.yaml``.
    """
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        return path
    return config_dir() / subdir / f"{path.name}.yaml"


def _read(name_or_path: str | os.PathLike[str], subdir: str) -> YamlDocument:
    path = resolve_config_path(name_or_path, subdir)
    if not path.exists() and path.parent == config_dir() / subdir:
        # a bare name that matched nothing: say which names exist
        names = sorted(p.stem for p in path.parent.glob("*.yaml"))
        name = Path(name_or_path).name
        what, other, other_dir = (("plan", "station", config_dir()) if subdir == "plans"
                                  else ("station", "plan", config_dir() / "plans"))
        hint = ""
        if (other_dir / f"{name}.yaml").is_file():
            hint = f"; {name!r} is a {other} ({other_dir / name}.yaml)"
        else:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        raise ConfigFileError(path, [ConfigProblem((), (
            f"no {what} named {name!r} in {path.parent}{hint} "
            f"(available: {', '.join(names) or 'none'})"))])
    return read_yaml(path)


def _validate(model: type[BaseModel], data: Mapping[str, Any], file: str,
              lines: Mapping[KeyPath, int] | None, prefix_rewrite: KeyPath = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, model, data, lines, prefix_rewrite)
        kind = "plan" if model is PlanConfig else "station"
        raise ConfigValidationError(file, problems, kind) from None


# Top-level keys that only a station file has, and those that make a file a plan.
_STATION_KEYS = ("instruments", "roles", "limits", "temperature_control")
_PLAN_KEYS = ("steps", "kind")


def _found_keys(data: Any, keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if isinstance(data, Mapping) and key in data]


def station_from_dict(data: Mapping[str, Any], file: str = "<memory>",
                      lines: Mapping[KeyPath, int] | None = None) -> StationConfig:
    """Validate an already parsed station mapping (``file`` only labels the messages)."""
    plan_keys = _found_keys(data, _PLAN_KEYS)
    if plan_keys and not _found_keys(data, _STATION_KEYS):
        raise ConfigKindError(file, "station", "plan", plan_keys,
                              "instruments:, roles:, limits: and temperature_control:")
    return _validate(StationConfig, data, file, lines)


def load_station(name_or_path: str | os.PathLike[str]) -> StationConfig:
    """Read and validate a station file (a path, or a name in ``configs/``).

    Raises :class:`ConfigError` listing every problem with its key path and line.
    """
    doc = _read(name_or_path, "")
    station = station_from_dict(doc.data, doc.file, doc.lines)
    station._source_file, station._source_text = doc.file, doc.text
    return station


def plan_from_dict(data: Mapping[str, Any], file: str = "<memory>",
                   lines: Mapping[KeyPath, int] | None = None,
                   default_name: str = "plan") -> PlanConfig:
    """Validate a parsed plan mapping: either ``steps: [...]`` or one step at the top level.

    ``default_name`` is used when the file gives no ``name`` (load_plan passes the file stem).
    """
    data = dict(data)
    station_keys = _found_keys(data, _STATION_KEYS)
    if station_keys and not _found_keys(data, _PLAN_KEYS):
        raise ConfigKindError(file, "plan", "station", station_keys, "kind: or steps:")
    if "steps" not in data and "kind" not in data:
        problem = ConfigProblem(("kind",), (
            f"missing: a plan gives kind: (one of {', '.join(STEP_KINDS)}) with its "
            "parameters, or steps: a list of such steps"), line_for((), lines))
        raise ConfigValidationError(file, [problem], "plan")
    single = "steps" not in data
    if single:
        head = {key: data.pop(key) for key in ("name", "description") if key in data}
        data = {**head, "steps": [data]}
        if lines is not None:
            # the step's keys are at the top of the file: map steps.0.<key> to <key>'s line
            lines = {**lines, **{("steps", 0, *k): v for k, v in lines.items()
                                 if k and k[0] not in ("name", "description")}}
    data.setdefault("name", default_name)
    plan = _validate(PlanConfig, data, file, lines, ("steps", 0) if single else ())
    plan._single_step_file = single
    return plan


def load_plan(name_or_path: str | os.PathLike[str]) -> PlanConfig:
    """Read and validate a plan: a path, or a name looked up in ``configs/plans/``."""
    doc = _read(name_or_path, "plans")
    plan = plan_from_dict(doc.data, doc.file, doc.lines, default_name=Path(doc.file).stem)
    plan._source_file, plan._source_text = doc.file, doc.text
    return plan


def load_plan_text(text: str, file: str = "<memory>") -> PlanConfig:
    """Validate a plan given as YAML text (e.g. pasted in the GUI)."""
    doc = parse_yaml(text, file)
    plan = plan_from_dict(doc.data, file, doc.lines)
    plan._source_text = text
    return plan


def load_station_text(text: str, file: str = "<memory>") -> StationConfig:
    """Validate a station given as YAML text (e.g. the copy stored in a run file)."""
    doc = parse_yaml(text, file)
    station = station_from_dict(doc.data, file, doc.lines)
    station._source_text = text
    return station
