"""Running a plan's cooldown steps: the cooldown monitor into a cooldown file, under the
run's control file and signals, with notifications.

On the simulated station the virtual fridge starts at base; ``from_K`` (default 300 K) warms
it and starts its cooldown first, so a dry run logs a whole cooldown in seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stm_andreev.procedures.cooldown import CooldownMonitor
from stm_andreev.storage.cooldown_file import CooldownWriter, cooldown_path

from .control import AbortRequested, RunControl
from .links import COMMAND_ERRORS, LINK_ERRORS

DEFAULT_FROM_K = 300.0

log = logging.getLogger(__name__)


@dataclass
class CooldownSummary:
    """What the command reports (and the notifier sends)."""

    path: str
    status: str
    reason: str = ""
    readings: int = 0
    final_K: float = math.nan
    station_time_s: float = 0.0
    wall_s: float = 0.0


def run_cooldown_steps(
    station,
    steps: list,
    path: Path,
    *,
    station_text: str,
    plan_text: str,
    metadata: dict[str, Any] | None = None,
    control=None,
    notifier=None,
    from_K: float | None = DEFAULT_FROM_K,
    on_reading: Callable[[Any], None] | None = None,
) -> CooldownSummary:
    """Run every cooldown step on ``station`` into one cooldown file at ``path``.

    ``control`` is a RunControl: ``abort`` ends the cooldown cleanly, ``pause`` stops the
    readings (not the fridge) until ``resume``. ``from_K`` warms a simulated fridge
    (``station.lab``) to that temperature and starts its cooldown first (None: leave it).
    ``on_reading`` sees every stored reading (a progress display).
    The file's status becomes ``finished`` (target reached), ``target_not_reached``,
    ``aborted`` or ``failed``.
    """
    if not steps:
        raise ValueError("no cooldown steps to run")
    clock = station.clock
    writer: CooldownWriter | None = None
    summary = CooldownSummary(str(path), "running")

    def event(kind: str, message: str) -> None:
        log.info("%s: %s", kind, message)
        if writer is not None:
            try:
                writer.log_event(kind, message, clock.now())
            except Exception:  # the event log must never end the cooldown
                log.exception("could not write cooldown event %s", kind)

    def check() -> None:
        if control is None:
            return
        control.wait_while_paused(on_pause=lambda: event("pause", "operator pause"))
        control.check_abort()

    def record(reading) -> None:
        writer.append(reading)
        if on_reading is not None:
            on_reading(reading)

    start_wall, start_clock = time.perf_counter(), clock.now()
    # A refused command is not a dropped link: retrying it would only repeat the refusal.
    monitor = CooldownMonitor(
        station, record, event=event, check=check, retry_on=LINK_ERRORS, fatal=COMMAND_ERRORS
    )
    writer = CooldownWriter.create(
        path,
        monitor.columns,
        station_text=station_text,
        plan_text=plan_text,
        metadata=metadata,
    )
    status = "failed"
    try:
        if from_K is not None and getattr(station, "lab", None) is not None:
            station.lab.fridge.start_cooldown(from_K)
            event("simulated_cooldown", f"simulated fridge warmed to {from_K:g} K; cooling starts")
        result = None
        for step in steps:
            result = monitor.run(step)
            if result.reason != "target_reached":
                break
        status = "finished" if result.reason == "target_reached" else "target_not_reached"
        summary.reason = result.reason
        summary.final_K = result.final_K
    except AbortRequested:
        status = "aborted"
        event("abort", "aborted by the operator")
    except BaseException as exc:
        event("failure", f"{type(exc).__name__}: {exc}")
        _notify(notifier, "failure", f"cooldown failed: {exc}", summary)
        raise
    finally:
        summary.status = status
        summary.readings = writer.count
        summary.station_time_s = clock.now() - start_clock
        summary.wall_s = time.perf_counter() - start_wall
        writer.close(status)
    # Not reaching the target is worth waking someone for: the plan's spectra will not start.
    kind = {"finished": "finish", "aborted": "abort"}.get(status, "failure")
    _notify(notifier, kind, f"cooldown {status.replace('_', ' ')}: {summary.final_K:.4g} K, "
            f"{summary.readings} readings", summary)
    return summary


def _notify(notifier, kind: str, message: str, summary: CooldownSummary) -> None:
    if notifier is not None and kind in notifier.kinds:
        notifier.send(kind, message, summary)


def run_for_plan(station, plan, steps, out_dir: Path, *, station_text: str, notifier=None,
                 from_K: float | None = DEFAULT_FROM_K,
                 on_reading: Callable[[Any], None] | None = None,
                 stamp: str | None = None) -> CooldownSummary:
    """The cooldown steps of ``plan`` into ``cooldown_path(...)``, with signal handling."""
    stamp = stamp or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = cooldown_path(out_dir, stamp, plan.name)
    control = RunControl(path)
    control.install_signal_handlers()
    try:
        return run_cooldown_steps(
            station, steps, path,
            station_text=station_text,
            plan_text=plan.source_text or "",
            metadata={"plan": plan.name, "station": station.config.name,
                      "simulated": station.simulated},
            control=control,
            notifier=notifier,
            from_K=from_K,
            on_reading=on_reading,
        )
    finally:
        control.restore_signal_handlers()
