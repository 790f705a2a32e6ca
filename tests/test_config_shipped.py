"""Every shipped station and plan loads, and says what the task promised it would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stm_andreev.config import (
    ConfigError,
    CooldownStep,
    SetpointSweepStep,
    TemperatureSweepStep,
    config_dir,
    load_plan,
    load_station,
)
from stm_andreev.procedures.checks import check_plan_against_station, estimate_plan

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
STATIONS = sorted(CONFIGS.glob("*.yaml"))
PLANS = sorted((CONFIGS / "plans").glob("*.yaml"))
EXPECTED_PLANS = {"paper-inO2", "setpoint-sweep", "temperature-sweep", "overnight-grid",
                  "position-survey", "cooldown", "single-spectrum", "quick"}


def test_config_dir_is_the_repository_configs():
    assert config_dir().resolve() == CONFIGS


def test_all_promised_files_are_shipped():
    assert {p.stem for p in STATIONS} >= {"simulated", "simulated-tcp", "lab-example"}
    assert {p.stem for p in PLANS} >= EXPECTED_PLANS


@pytest.mark.parametrize("path", STATIONS, ids=lambda p: p.stem)
def test_station_loads(path: Path):
    station = load_station(path)
    assert station.name
    assert station.snapshot()["name"] == station.name


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.stem)
@pytest.mark.parametrize("station_name", ["simulated", "lab-example"])
def test_plan_loads_and_fits_the_shipped_stations(path: Path, station_name: str):
    plan = load_plan(path)
    assert plan.name == path.stem
    assert check_plan_against_station(plan, load_station(station_name)) == []


def test_names_resolve_like_paths():
    assert load_station("simulated") == load_station(CONFIGS / "simulated.yaml")
    assert load_plan("quick") == load_plan(str(CONFIGS / "plans" / "quick.yaml"))


def test_unknown_name_lists_what_exists():
    with pytest.raises(ConfigError, match="available: .*paper-inO2"):
        load_plan("no-such-plan")


def test_simulated_station_is_whole_lab_in_process_on_virtual_clock():
    station = load_station("simulated")
    assert station.fully_simulated and station.clock_kind == "virtual"
    assert station.simulation.transport == "inprocess"
    assert station.simulation.sample == "InO-2"
    limits = station.limits
    # allows a 1 uA contact at 3 mV and a sweep to 1.6 K
    assert limits.max_setpoint_A >= 1e-6 and limits.max_bias_V >= 3e-3
    assert limits.temperature_ceiling_K >= 1.6
    assert station.temperature_control.band_for(1.6).heater_range in limits.allowed_heater_ranges
    assert {r for r, _ in station.roles.items()} >= {"lockin", "feedback", "temperature"}


def test_simulated_tcp_points_every_instrument_at_loopback():
    station = load_station("simulated-tcp")
    assert station.simulation.transport == "tcp"
    assert station.clock_kind == "scaled"
    for inst in station.instruments.values():
        assert inst.simulated and inst.parsed_address.host == "127.0.0.1"
    assert station.instruments["stm"].ports == [6501, 6502, 6503, 6504]


def test_lab_example_is_real_with_the_documented_addresses():
    station = load_station("lab-example")
    assert station.clock_kind == "wall" and not station.fully_simulated
    assert station.simulation is None
    lockin = station.instrument_for("lockin")[1]
    assert (lockin.driver, lockin.address) == ("sr830", "GPIB0::8::INSTR")
    fridge = station.instrument_for("temperature")[1]
    assert fridge.parsed_address.host == "192.0.2.10" and fridge.parsed_address.port == 7777
    assert fridge.options.channels["mixing_chamber"] == 6
    stm = station.instrument_for("feedback")[1]
    assert (stm.parsed_address.host, stm.parsed_address.port) == ("127.0.0.1", 6501)
    assert station.notifications.smtp.from_ == "stm@example.org"
    text = (CONFIGS / "lab-example.yaml").read_text()
    assert text.count("#") > 40  # commented for a physicist filling it in


def test_paper_plan_is_the_default_dry_run():
    plan = load_plan("paper-inO2")
    sweep, warmup = plan.steps
    assert isinstance(sweep, SetpointSweepStep) and isinstance(warmup, TemperatureSweepStep)
    setpoints = sweep.setpoint_sequence_A()
    assert len(setpoints) == 31
    assert setpoints[0] == pytest.approx(1e-9) and setpoints[-1] == pytest.approx(1e-6)
    assert np.allclose(np.diff(np.log(setpoints)), np.log(1000) / 30)  # log steps
    assert sweep.temperature_K == pytest.approx(0.065) and sweep.V_sp_V == pytest.approx(-3e-3)
    temps = warmup.temperature_sequence_K()
    assert 12 <= len(temps) <= 18
    # through Tc = 1.5 K to 1.2 Tc, where the zero-bias maximum must be gone (issue 15)
    assert temps[0] == pytest.approx(0.065) and temps[-1] == pytest.approx(1.8)
    assert np.all(np.diff(temps) > 0)
    # the Z ~ 1.45 contact of Fig. 2 (coherence and Andreev peaks both visible), docs/physics.md
    assert warmup.setpoint_A == pytest.approx(4.3e-6) and warmup.V_sp_V == pytest.approx(-1.5e-3)
    assert plan.n_spectra == 31 + len(temps)


def test_quick_plan_is_tiny():
    plan = load_plan("quick")
    assert [step.n_spectra for step in plan.steps] == [3, 2]
    assert all(step.n_bias == 41 for step in plan.steps)
    assert len(plan.steps[1].temperature_sequence_K()) == 2


def test_cooldown_plan_has_no_spectra():
    plan = load_plan("cooldown")
    (step,) = plan.steps
    assert isinstance(step, CooldownStep) and plan.n_spectra == 0
    assert step.n_readings == 172800 // 30 + 1


def test_paper_plan_estimate_uses_the_plan_timing():
    station = load_station("simulated")
    plan = load_plan("paper-inO2")
    est = estimate_plan(plan, station)
    sweep, warmup = plan.steps
    # Point by point the wait is the 24 dB/oct filter's settle time to 1e-3, 13.06 tau (more
    # than settle_s = 0.1 s): tau = 100 ms at the three lowest setpoints (1 to 1.6 nA, for the
    # signal-to-noise), 30 ms from 2 nA up and at the contact setpoint of the warm-up.
    slow, fast = 2.0 + 301 * 13.0622 * 0.1, 2.0 + 301 * 13.0622 * 0.03
    spectra = 3 * slow + 28 * fast
    n_t = len(warmup.temperature_sequence_K())
    ramp = (4.3e-6 - 1e-9) / station.limits.setpoint_ramp_A_per_s  # up to the contact
    dwell, timeout = station.temperature_control.settle.dwell_s, \
        station.temperature_control.settle.timeout_s
    assert est.n_spectra == 31 + n_t and est.n_points == 301 * (31 + n_t)
    spectra += n_t * fast
    assert est.min_s == pytest.approx(spectra + ramp + (1 + n_t) * dwell, rel=1e-5)
    assert est.max_s == pytest.approx(spectra + ramp + (1 + n_t) * timeout, rel=1e-5)


def _models(root, seen=None):
    """Every model class reachable from ``root`` through its field annotations."""
    import typing

    from pydantic import BaseModel

    from stm_andreev.config.errors import union_members

    seen = set() if seen is None else seen
    if root in seen:
        return seen
    seen.add(root)
    for field in root.model_fields.values():
        stack = union_members(field.annotation)
        while stack:
            arg = stack.pop()
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)
            else:
                for inner in typing.get_args(arg):
                    stack.extend(union_members(inner))
    return seen


def test_readme_documents_every_key():
    from stm_andreev.config import PlanConfig, StationConfig

    readme = (CONFIGS / "README.md").read_text()
    missing = sorted({
        f"{model.__name__}.{field.alias or name}"
        for model in _models(StationConfig) | _models(PlanConfig)
        for name, field in model.model_fields.items()
        if f"`{field.alias or name}`" not in readme
    })
    assert missing == []


def test_loaded_files_remember_their_source():
    station = load_station("simulated")
    assert station.source_file == str(CONFIGS / "simulated.yaml")
    assert station.source_text == (CONFIGS / "simulated.yaml").read_text()
    plan = load_plan("quick")
    assert plan.source_file.endswith("quick.yaml") and "# A tiny plan" in plan.source_text


def _commands_in_comments(path: Path) -> list[list[str]]:
    """The `stm-andreev run|check-config ...` command lines quoted in a file's comments."""
    import shlex

    found = []
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and "stm-andreev " in line:
            command = line.split("stm-andreev ", 1)[1].split("#")[0].split("`")[0]
            argv = shlex.split(command)
            if argv and argv[0] in ("run", "check-config"):
                found.append(argv)
    return found


def test_commands_in_the_shipped_headers_give_each_file_its_right_place(monkeypatch):
    """A station where the command wants a station, a plan where it wants a plan (files that
    exist; `my-lab.yaml` stands for the reader's own)."""
    from stm_andreev.cli import COMMANDS, _load, build_parser
    from stm_andreev.config import resolve_config_path

    monkeypatch.chdir(CONFIGS.parent)
    parser = build_parser({name: _load(module) for name, module in COMMANDS.items()})
    checked = 0
    for path in [*STATIONS, *PLANS]:
        for argv in _commands_in_comments(path):
            args = parser.parse_args(argv)
            for given, load, subdir in ((args.station, load_station, ""),
                                        (args.plan, load_plan, "plans")):
                if given and resolve_config_path(given, subdir).exists():
                    load(given)  # a ConfigError here: the header gives a file its wrong place
                    checked += 1
    assert checked >= 3  # simulated-tcp.yaml's run line, lab-example.yaml's plan
