"""Run ``stm-andreev run ...`` in this process and SIGKILL it at a chosen moment.

Usage: ``python kill_launcher.py MOMENT:N run [ARGS...]``. MOMENT is where the N-th
occurrence (counted in this process) triggers the kill:

* ``snap``: the N-th lock-in reading, i.e. in the middle of a bias sweep;
* ``row_written``: a spectrum's row is flushed but the ledger does not name it yet;
* ``ledger_written``: the ledger names it but the file is not flushed;
* ``event``: an event is about to be logged (start, resume, temperature, ...).

The kill is a real SIGKILL of this process: nothing is cleaned up, exactly as when the
machine loses power or the OOM killer strikes. Moments are counted, not timed, so the
campaign is reproducible and needs no wall-clock waits.
"""

from __future__ import annotations

import os
import signal
import sys

MOMENTS = ("snap", "row_written", "ledger_written", "event")


def arm(moment: str, n: int) -> None:
    from stm_andreev.drivers.lockin import SRSLockInMixin
    from stm_andreev.storage import RunWriter

    seen = {"n": 0}

    def tick() -> None:
        seen["n"] += 1
        if seen["n"] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if moment == "snap":
        snap = SRSLockInMixin.snap_xy

        def snap_then_maybe_die(self):
            tick()
            return snap(self)

        SRSLockInMixin.snap_xy = snap_then_maybe_die
    elif moment == "event":
        log_event = RunWriter.log_event

        def log_then_maybe_die(self, *args, **kwargs):
            tick()
            return log_event(self, *args, **kwargs)

        RunWriter.log_event = log_then_maybe_die
    else:

        def hook(stage: str, point_index: int) -> None:
            if stage == moment:
                tick()

        RunWriter.fault_hook = staticmethod(hook)


def main(argv: list[str]) -> int:
    moment, _, count = argv[0].partition(":")
    if moment not in MOMENTS or not count.isdigit() or int(count) < 1:
        raise SystemExit(f"kill moment must be one of {MOMENTS} with :N (N >= 1), got {argv[0]!r}")
    arm(moment, int(count))
    from stm_andreev.cli import main as cli_main

    return cli_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
