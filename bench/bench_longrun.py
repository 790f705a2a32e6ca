"""An accelerated overnight run: memory growth, file validity and wall time; asserts nothing.

    python bench/bench_longrun.py [--repeats 4] [--n-bias 101] [--out DIR]

Runs an overnight_grid plan (4 temperatures x 3 tip positions x 7 setpoints x ``--repeats``
repeats = 336 spectra of 101 bias points by default, about 12 h of station time) on the default
simulated station (in-process, virtual clock) through the real engine, drivers, emulators and
run file. Prints the resident memory (VmRSS from /proc/self/status) after the first hour of
station time and at the end, the growth between them (target < 50 MB), whether the file opens
cleanly with every planned spectrum exactly once and finite, and the wall time with the
station-time / wall-time ratio.
"""

from __future__ import annotations

import argparse
import gc
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from stm_andreev.config import load_plan_text, load_station
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.engine.runner import POINT_KEYS
from stm_andreev.procedures import plan_points
from stm_andreev.station import Station
from stm_andreev.storage import RunReader, RunWriter

GROWTH_TARGET_MB = 50.0
FIRST_HOUR_S = 3600.0

PLAN = """
name: longrun
kind: overnight_grid
temperatures_K: [0.065, 0.3, 0.6, 1.0]
setpoints_A: {{start: 1.0e-9, stop: 1.0e-6, n: 7, spacing: log}}
repeats: {repeats}
positions_m:
  - [0.0, 0.0]
  - [50.0e-9, 0.0]
  - [0.0, 50.0e-9]
V_sp_V: -3.0e-3
bias_start_V: -1.5e-3
bias_stop_V: 1.5e-3
n_bias: {n_bias}
modulation_Vrms: 20.0e-6
settle_s: {settle_s}
integration_s: {settle_s}
"""


def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status (not Linux?)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4, help="repeats per setpoint (4: 336)")
    parser.add_argument("--n-bias", type=int, default=101, help="bias points per spectrum")
    parser.add_argument("--settle-s", type=float, default=1.2,
                        help="settle and integration per bias point, s of station time "
                        "(1.2: about 12 h for the default plan)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the run file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    plan_text = PLAN.format(repeats=args.repeats, n_bias=args.n_bias, settle_s=args.settle_s)
    plan = load_plan_text(plan_text, "longrun.yaml")
    points = plan_points(plan)
    station_cfg = load_station("simulated")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-longrun-"))
    path = out / f"longrun-{time.strftime('%Y%m%d-%H%M%S')}.h5"  # never overwritten

    wall0 = time.perf_counter()
    station = Station.from_config(station_cfg, source_text=station_cfg.source_text)
    writer = RunWriter.create(path, n_bias=args.n_bias, n_planned=len(points),
                              metadata={"plan": plan.name}, station_text=station_cfg.source_text,
                              plan_text=plan_text, snapshot=station.snapshot(),
                              point_keys=POINT_KEYS)
    marks: dict[str, float] = {}
    rss_start = rss_mb()

    def on_spectrum(point, spectrum) -> None:
        if "first_hour" not in marks and station.clock.now() >= FIRST_HOUR_S:
            gc.collect()
            marks["first_hour"] = rss_mb()
            marks["first_hour_spectra"] = point.index + 1

    try:
        summary = RunEngine(station, points, writer, control=RunControl(None),
                            on_spectrum=on_spectrum).run()
    finally:
        station.close()
    wall = time.perf_counter() - wall0
    gc.collect()
    rss_end = rss_mb()

    with RunReader(path) as run:
        ledger = [int(p) for p in run.ledger]
        G = np.asarray(run.spectra()["G_S"])
        valid = (run.status == "finished" and sorted(ledger) == list(range(len(points)))
                 and G.shape == (len(points), args.n_bias) and bool(np.all(np.isfinite(G))))
    first = marks.get("first_hour", float("nan"))
    growth = rss_end - first
    print(f"plan:             {len(points)} spectra x {args.n_bias} bias points "
          f"({plan.steps[0].describe() if hasattr(plan, 'steps') else plan.name})")
    print(f"station time:     {summary.station_time_s / 3600:.2f} h")
    print(f"wall time:        {wall:.1f} s  (station/wall = {summary.station_time_s / wall:.0f}x)")
    print(f"RSS at start:     {rss_start:.1f} MB")
    print(f"RSS after 1 h:    {first:.1f} MB  ({marks.get('first_hour_spectra', 0):.0f} spectra)")
    print(f"RSS at the end:   {rss_end:.1f} MB")
    print(f"growth 1 h -> end:{growth:7.1f} MB  (target < {GROWTH_TARGET_MB:.0f} MB: "
          f"{'met' if growth < GROWTH_TARGET_MB else 'MISSED'})")
    print(f"run file:         {path} ({path.stat().st_size / 1e6:.1f} MB), status {summary.status}")
    print(f"file valid:       {valid} (opens, finished, every spectrum exactly once, finite)")
    print(f"spectra present:  {len(set(ledger))} of {len(points)}")
    kinds = [kind for kind, _ in summary.events]
    print(f"events:           {kinds.count('retake')} re-takes, {kinds.count('link_error')} link "
          f"errors, {kinds.count('pause')} pauses (a fault-free night should have none)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
