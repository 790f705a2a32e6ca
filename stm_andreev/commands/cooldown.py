"""``stm-andreev cooldown``: log the fridge and the film's R(T) while it cools (the file:
:mod:`stm_andreev.storage.cooldown_file`; the loop: :mod:`stm_andreev.engine.cooldown`).

On the simulated station the virtual fridge starts at base; ``--from-K`` (default 300 K)
warms it and starts its cooldown first, so the dry run logs a whole cooldown in seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from stm_andreev.commands.status_line import StatusLine

if TYPE_CHECKING:
    from stm_andreev.engine.cooldown import CooldownSummary


HELP = "log fridge temperatures and the film resistance R(T) during a cooldown"
DEFAULT_FROM_K = 300.0  # the engine's default, repeated so --help imports nothing heavy


class _Progress:
    """One line on stderr: readings, control temperature, film resistance, station time (log
    records step around it, see :mod:`stm_andreev.commands.status_line`)."""

    def __init__(self, clock, min_interval_s: float = 0.2) -> None:
        self.clock = clock
        self.n = 0
        self.min_interval_s = min_interval_s
        self._shown = -math.inf
        self.line = StatusLine(width=100)

    def __call__(self, reading) -> None:
        self.n += 1
        # Thousands of readings in a dry run: redraw at most a few times per wall second.
        if time.perf_counter() - self._shown < self.min_interval_s:
            return
        self._shown = time.perf_counter()
        t = int(self.clock.now())
        self.line.show(
            f"cooldown: {self.n} readings, {reading.control_K:.4g} K, film "
            f"{reading.film_R_ohm:.4g} ohm, station {t // 3600}h{t // 60 % 60:02d}m"
        )

    def finish(self) -> None:
        self.line.close()


def print_summary(summary: CooldownSummary) -> None:
    print(
        "\n".join(
            [
                f"cooldown file: {summary.path}",
                f"status:        {summary.status} ({summary.reason or '-'})",
                f"readings:      {summary.readings}, last {summary.final_K:.4g} K",
                f"time taken:    {summary.wall_s:.1f} s wall, "
                f"{summary.station_time_s / 3600:.2f} h of station time",
            ]
        )
    )


# ------------------------------------------------------------------------------ command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", default="simulated", help="station file or name")
    parser.add_argument("--target-K", type=float, default=0.06, help="stop at this control "
                        "temperature, K (default 0.06)")
    parser.add_argument("--interval-s", type=float, default=30.0, help="seconds between readings")
    parser.add_argument("--max-duration-s", type=float, default=2 * 86400.0,
                        help="give up after this long, s (default 2 days)")
    parser.add_argument("--from-K", type=float, default=DEFAULT_FROM_K,
                        help="simulated station only: warm the virtual fridge to this "
                        "temperature and cool it down (default 300 K)")
    parser.add_argument("--out", default=None, help="directory (default: the station's output_dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace) -> int:
    from stm_andreev.config import ConfigError, load_plan_text

    text = (
        "name: cooldown\nkind: cooldown\n"
        f"target_K: {args.target_K!r}\ninterval_s: {args.interval_s!r}\n"
        f"max_duration_s: {args.max_duration_s!r}\n"
    )
    try:
        plan = load_plan_text(text, "command line")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_plan(plan, args.station, args.out, from_K=args.from_K, quiet=args.quiet)


def run_plan(plan, station_name: str, out: str | None, *, from_K: float | None,
             quiet: bool) -> int:
    """A plan of cooldown steps only, on a station file: the ``stm-andreev run`` path too."""
    from stm_andreev.config import ConfigError, load_station
    from stm_andreev.station import Station

    try:
        station_cfg = load_station(station_name)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    station = Station.from_config(station_cfg, source_text=station_cfg.source_text)
    try:
        out_dir = Path(out) if out else Path(station_cfg.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = run_with_progress(
            station, plan, list(plan.steps), out_dir,
            station_text=station_cfg.source_text, notifier=_notifier(station_cfg),
            from_K=from_K, quiet=quiet,
        )
    finally:
        station.close()
    print_summary(summary)
    return 0 if summary.status == "finished" else 3


def _notifier(station_cfg):
    if station_cfg.notifications is None:
        return None
    from stm_andreev.engine.notify import Notifier

    return Notifier(station_cfg.notifications)


def run_with_progress(station, plan, steps, out_dir: Path, *, quiet: bool, **kwargs):
    """The engine's cooldown of ``plan`` with a progress line on stderr unless ``quiet``."""
    from stm_andreev.engine.cooldown import run_for_plan

    bar = None if quiet else _Progress(station.clock)
    try:
        return run_for_plan(station, plan, steps, out_dir, on_reading=bar, **kwargs)
    finally:
        if bar is not None:
            bar.finish()
