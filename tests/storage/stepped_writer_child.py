"""Writer process that appends one point per command, for tests that read in lockstep.

    python -m tests.storage.stepped_writer_child PATH N_PLANNED

Prints "ready" once the file exists; then answers stdin commands, each with "ok":
    add P       append the deterministic spectrum of point P
    pause       log a "pause" event, then set the status "paused" (as the engine does)
    finish P    append point P, log "finish", close the file as finished (as the engine does)
"close" closes the file as finished and prints "closed".
"""

from __future__ import annotations

import sys

from .storage_helpers import append_point, new_run


def main() -> None:
    writer = new_run(sys.argv[1], n_planned=int(sys.argv[2]))
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["add"]:
            append_point(writer, int(command[1]))
        elif command == ["pause"]:
            writer.log_event("pause", "operator pause", time_s=1.0)
            writer.set_status("paused")
        elif command[:1] == ["finish"]:
            append_point(writer, int(command[1]))
            writer.log_event("finish", "all points done", time_s=2.0)
            writer.close("finished")
        elif command == ["close"]:
            break
        print("ok", flush=True)
    writer.close("finished")
    print("closed", flush=True)


if __name__ == "__main__":
    main()
