"""``stm-andreev gui [--station FILE] [--attach RUNFILE] [--screenshot PNG]``: the lab GUI.

The GUI starts runs as separate ``stm-andreev run`` processes and reads their files; closing it
never stops a run, and ``--attach RUNFILE`` (or the queue file) reattaches after a restart.
With the simulated station the Cooldown tab shows a simulated cooldown from 300 K, 60 s of
fridge time per tick. ``--screenshot PNG`` renders the window once the data are in, saves it,
prints where and exits. Qt's known-benign console noise goes to debug logging
(:mod:`stm_andreev.gui.qt_messages`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

HELP = "the lab GUI: run control, live spectra, cooldown dashboard, run browser"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", default="simulated",
                        help="station file or name in configs/ (default simulated)")
    parser.add_argument("--attach", metavar="RUNFILE", default=None,
                        help="follow this run file (started by stm-andreev run or an earlier GUI)")
    parser.add_argument("--screenshot", metavar="PNG", default=None,
                        help="render the window once the data have arrived, save it and exit")
    parser.add_argument("--queue", metavar="JSON", default=None,
                        help="run queue file (default ~/.stm-andreev/queue.json)")
    parser.add_argument("--runs", metavar="DIR", default=None,
                        help="directory for queued runs and the browser (default: the station's "
                             "output_dir)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="with --screenshot: longest wait for the data, s (default 120)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.attach and not Path(args.attach).is_file():
        print(f"error: --attach {args.attach}: no such run file", file=sys.stderr)
        return 2

    from stm_andreev.config import ConfigError
    from stm_andreev.gui.app import GuiOptions, run_gui
    from stm_andreev.gui.qt_messages import quiet_qt
    from stm_andreev.service.queue_store import QueueFileError

    before = _stat(args.screenshot)
    try:
        with quiet_qt():
            code = run_gui(GuiOptions(
                station=args.station, attach=args.attach, screenshot=args.screenshot,
                queue=args.queue, runs=args.runs, timeout_s=args.timeout,
            ))
    except (ConfigError, QueueFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.screenshot:
        # Said only when a picture was really written now (not an old file at that path).
        after = _stat(args.screenshot)
        if after is None or after == before:
            print(f"error: --screenshot {args.screenshot}: the picture could not be saved",
                  file=sys.stderr)
            return 1
        print(f"screenshot saved: {args.screenshot}"
              + ("" if code == 0 else " (taken at the timeout, before all data arrived)"))
    return code


def _stat(path: str | None) -> tuple[int, int] | None:
    """(mtime in ns, size) of ``path``, or None when there is no such file."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return None if st is None else (st.st_mtime_ns, st.st_size)
