"""What the service shows of the running plan: status, the current spectrum and the series so far.

It follows the current plan's run file with the GUI's :class:`~stm_andreev.gui.runfile.RunFollower`
(SWMR reads; the run is never touched) and keeps JSON-ready snapshots. A snapshot is built
whole and then swapped in, so the HTTP threads read it without a lock. Every change bumps
``version`` (status) or ``spectrum_seq`` (a new spectrum), which the event streams wait on.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from stm_andreev.gui.runfile import RunFollower, RunFollowError, SpectraBlock

log = logging.getLogger(__name__)

#: Columns of the per-spectrum table sent as the "summary" of each spectrum (series plots).
SUMMARY_KEYS = (
    "point_index", "time_s", "setpoint_A", "target_temperature_K", "temperature_before_K",
    "temperature_after_K", "G_sp_S", "step_index", "status_text", "retake_count",
)
#: Events kept in the status (the page shows the log; the full log is in the run file).
EVENTS_KEPT = 50
#: Film resistance: the run file has no column for it, so the page says it is not known.
FILM_R_NOTE = "film R is not recorded in run files; read it on the fridge's bridge"


def _finite(value: Any) -> Any:
    """JSON has no NaN: unknown numbers become null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _news(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("elapsed_s", "eta_s")}


class RunMonitor:
    """Follows one run file at a time (``follow(path)``; ``follow(None)`` between plans)."""

    def __init__(self) -> None:
        self._follower: RunFollower | None = None
        self._lock = threading.Lock()
        self.version = 0
        self.spectrum_seq = 0
        self.run: dict[str, Any] = {}
        self.spectrum: dict[str, Any] = {}
        #: ``spectrum`` as JSON, encoded once for every client ("" when there is none)
        self.spectrum_json = ""
        self.series: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    @property
    def path(self) -> Path | None:
        return None if self._follower is None else self._follower.path

    def follow(self, path: str | Path | None) -> None:
        with self._lock:
            if (None if path is None else Path(path)) == self.path:
                return
            if self._follower is not None:
                self._follower.close()
            self._follower = None if path is None else RunFollower(path)
            self.series = []
            self.spectrum = {}
            self.spectrum_json = ""
            self.run = {}
        self._bump(spectrum=True)

    def close(self) -> None:
        self.follow(None)

    def poll(self) -> None:
        """Read what the run wrote since the last poll (called by the service's loop)."""
        with self._lock:
            f = self._follower
            if f is None:
                return
            try:
                block = f.poll()
            except RunFollowError as exc:
                log.warning("%s", exc)
                return
            if not f.opened:
                return
            new_spectrum = block is not None and block.n > 0
            if new_spectrum:
                self._take(block)
            run = self._run_snapshot(f)
            # Elapsed time and ETA drift every poll; only news makes a change for the streams.
            changed = new_spectrum or _news(run) != _news(self.run)
            if changed:
                self.run = run
        if changed:
            self._bump(spectrum=new_spectrum)

    def _take(self, block: SpectraBlock) -> None:
        rows = [
            {k: _finite(block.table[k][i]) for k in SUMMARY_KEYS if k in block.table}
            for i in range(block.n)
        ]
        self.series = self.series + rows
        last = block.n - 1
        self.spectrum = {
            "row": block.first + last,
            "bias_V": [_finite(float(v)) for v in block.bias_V[last]],
            "G_G0": [_finite(float(v)) for v in block.G_G0[last]],
            "summary": rows[-1],
            "stored_wall_s": time.time(),
        }
        self.spectrum_json = json.dumps(self.spectrum, separators=(",", ":"))

    def _run_snapshot(self, f: RunFollower) -> dict[str, Any]:
        p = f.progress()
        banner = f.banner()
        last = self.series[-1] if self.series else {}
        return {
            "run_file": str(f.path),
            "plan": _finite(f.metadata.get("plan", "")),
            "sample": _finite(f.metadata.get("sample", "")),
            "simulated": bool(f.metadata.get("simulated", False)),
            "status": p.status,
            "done": p.done,
            "planned": p.planned,
            "elapsed_s": _finite(p.elapsed_s),
            "eta_s": _finite(p.eta_s),
            "point": {k: last.get(k) for k in ("point_index", "step_index", "setpoint_A",
                                               "target_temperature_K")} if last else None,
            "temperatures_K": {"before": last.get("temperature_before_K"),
                               "after": last.get("temperature_after_K")} if last else None,
            "film_R_ohm": None,
            "film_R_note": FILM_R_NOTE,
            "interlock": {"level": banner.level, "text": banner.text},
            "events": [
                {"time_s": _finite(e.time_s), "point_index": e.point_index, "kind": e.kind,
                 "message": e.message}
                for e in f.events[-EVENTS_KEPT:]
            ],
        }

    def _bump(self, *, spectrum: bool) -> None:
        with self.changed:
            self.version += 1
            if spectrum:
                self.spectrum_seq += 1
            self.changed.notify_all()
