"""Writer process for the crash tests: appends points until killed (run with python -m).

    python -m tests.storage.crash_writer_child PATH create|resume N_PLANNED
        [--hook STAGE:POINT]   SIGKILL itself inside append_spectrum at STAGE for POINT
        [--kill-after N]       SIGKILL itself after N appends (between two appends)
        [--kill-at-start]      SIGKILL itself right after opening, before any append

Prints "ready" once the file is open and "done P" after each confirmed point, so the parent
can also kill it from outside at an arbitrary moment.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from stm_andreev.storage import RunWriter

from .storage_helpers import append_point, new_run


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("mode", choices=["create", "resume"])
    parser.add_argument("n_planned", type=int)
    parser.add_argument("--hook", default=None)
    parser.add_argument("--kill-after", type=int, default=None)
    parser.add_argument("--kill-at-start", action="store_true")
    args = parser.parse_args()

    if args.hook:
        kill_stage, kill_point = args.hook.split(":")

        def hook(at_stage: str, at_point: int) -> None:
            if at_stage == kill_stage and at_point == int(kill_point):
                _die()

        RunWriter.fault_hook = hook

    if args.mode == "create":
        writer = new_run(args.path, n_planned=args.n_planned)
    else:
        writer = RunWriter.resume(args.path)
    print("ready", flush=True)
    if args.kill_at_start:
        _die()
    appended = 0
    for point in range(args.n_planned):
        if writer.is_finished(point):
            continue
        writer.log_event("measure", f"measuring point {point}", time_s=float(point),
                         point_index=point)
        append_point(writer, point)
        appended += 1
        print(f"done {point}", flush=True)
        if args.kill_after is not None and appended == args.kill_after:
            _die()
    writer.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
