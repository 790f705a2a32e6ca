"""``stm-andreev check-config STATION [PLAN]``: validate files and summarise what a run would do.

Exit status 0 when everything is valid and the plan fits the station's limits; otherwise 2 with
``error: ...`` on stderr, exactly as ``stm-andreev run`` refuses the same files. Nothing
connects to any instrument.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by run() only, so that `--help` stays instant
    from stm_andreev.config import ConfigError, PlanConfig, StationConfig

HELP = "validate a station file (and a plan) and print a summary; nothing connects"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("station", help="station file, or a name in configs/ (e.g. simulated)")
    parser.add_argument("plan", nargs="?",
                        help="plan file, or a name in configs/plans/ (e.g. paper-inO2)")


def station_summary(station: StationConfig, source: str) -> list[str]:
    """Lines describing the station: mode, instruments, roles, limits, temperature control."""
    from stm_andreev.config import si

    sim = station.simulation
    if station.clock_kind == "wall":
        mode = "real instruments, wall clock"
    else:
        what = "fully simulated" if station.fully_simulated else "partly simulated"
        clock = "virtual clock" if sim.clock == "virtual" else f"clock x{sim.speedup:g}"
        mode = f"{what} ({sim.transport}, {clock}), sample {sim.sample_name}, seed {sim.seed}"
        if sim.faults:
            mode += f", {len(sim.faults)} fault(s) injected"
    lines = [f"Station {station.name!r} ({source})", f"  mode: {mode}", "  instruments:"]
    for name, inst in station.instruments.items():
        where = inst.address or "in-process"
        kind = "simulated" if inst.simulated else "real"
        lines.append(f"    {name:<12} {inst.driver:<13} {kind:<9} {where}")
    lines.append("  roles: " + ", ".join(f"{role} -> {name}"
                                         for role, name in station.roles.items()))
    lim = station.limits
    lines.append(
        f"  limits: |bias| <= {si(lim.max_bias_V, 'V')}, setpoint <= "
        f"{si(lim.max_setpoint_A, 'A')}, T <= {si(lim.temperature_ceiling_K, 'K')}, "
        f"heater ranges {lim.allowed_heater_ranges}, z in [{si(lim.z_limits_m[0], 'm')}, "
        f"{si(lim.z_limits_m[1], 'm')}], ramp {si(lim.setpoint_ramp_A_per_s, 'A/s')}, "
        f"modulation <= {si(lim.max_modulation_Vrms, 'Vrms')}"
        + ("" if lim.scan_range_m is None else
           ", scan range x [{}, {}], y [{}, {}]".format(
               *(si(v, "m") for axis in lim.scan_range_m for v in axis))))
    tc = station.temperature_control
    lines.append(
        f"  temperature control: {len(tc.bands)} band(s) up to {si(tc.max_K, 'K')}, safe heater "
        f"range {tc.safe_heater_range}; settled within {si(tc.settle.tolerance_K, 'K')} for "
        f"{tc.settle.dwell_s:g} s (timeout {tc.settle.timeout_s:g} s)")
    lines.append(f"  output: {station.output_dir}")
    return lines


def plan_summary(plan: PlanConfig, source: str, station: StationConfig) -> list[str]:
    """Lines describing the plan: its steps, spectrum counts and the duration estimate."""
    from stm_andreev.config.base import duration_text
    from stm_andreev.procedures.checks import estimate_plan

    if plan.n_spectra > station.limits.max_plan_spectra:
        return [f"Plan {plan.name!r} ({source}): {plan.n_spectra} spectra, more than "
                f"limits.max_plan_spectra; not estimated"]
    estimate = estimate_plan(plan, station)
    lines = [f"Plan {plan.name!r} ({source})"]
    if plan.description:
        lines.append(f"  {plan.description}")
    for step, est in zip(plan.steps, estimate.steps, strict=True):
        label = f" [{step.label}]" if step.label else ""
        lines.append(f"  {est.index + 1}. {step.describe()}{label} -> {est.n_spectra} spectra")
        overhead = step.overhead_s(station.limits.setpoint_ramp_A_per_s)
        if overhead:
            lines.append(f"     step time: at least {duration_text(est.min_s)}, of which "
                         f"{duration_text(overhead)} tip moves, settling and drift references")
    lines.append(f"  total: {estimate.n_spectra} spectra, {estimate.n_points} bias points; "
                 f"estimated duration {estimate.text()}")
    return lines


def kind_hint(exc: ConfigError) -> str:
    """How to pass a station or plan file given in the other one's place ("" otherwise)."""
    from stm_andreev.config import ConfigKindError

    if not isinstance(exc, ConfigKindError):
        return ""
    if exc.found == "station":
        return f"  a station file goes first: stm-andreev check-config {exc.file} [PLAN]"
    return f"  a plan file goes second: stm-andreev check-config STATION {exc.file}"


def run(args: argparse.Namespace) -> int:
    from stm_andreev.config import ConfigError, load_plan, load_station, resolve_config_path

    try:
        station = load_station(args.station)
        station_file = str(resolve_config_path(args.station))
        lines = station_summary(station, station_file)
        if args.plan:
            plan = load_plan(args.plan)
            plan_file = str(resolve_config_path(args.plan, "plans"))
            lines += plan_summary(plan, plan_file, station)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        hint = kind_hint(exc)
        if hint:
            print(hint, file=sys.stderr)
        return 2
    print("\n".join(lines))
    if args.plan:
        from stm_andreev.procedures.checks import check_plan_against_station

        violations = check_plan_against_station(plan, station)
        if violations:
            # Named by the files given: the plan's and station's name: fields may say anything.
            print(f"error: plan file {plan_file} exceeds the limits of station file "
                  f"{station_file} ({len(violations)} problem(s)):", file=sys.stderr)
            for text in violations:
                print(f"  {text}", file=sys.stderr)
            return 2
        print("  limits: OK, the plan fits the station")
    return 0
