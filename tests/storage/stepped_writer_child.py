"""Writer process that appends one point per command, for tests that read in lockstep.

    python -m tests.storage.stepped_writer_child PATH N_PLANNED

Prints "ready" once the file exists; then on stdin "add P" appends the deterministic spectrum
of point P and prints "ok", "close" closes the file as finished and prints "closed".
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
            print("ok", flush=True)
        elif command == ["close"]:
            break
    writer.close("finished")
    print("closed", flush=True)


if __name__ == "__main__":
    main()
